"""The hash chain behind the audit log, as pure functions.

Each entry's hash is SHA-256 over the previous entry's hash and the RFC 8785
canonical JSON of the entry's body, so changing, removing or reordering any entry
breaks every hash after it. Storage keeps the rows; this module only computes and
checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785

GENESIS_HASH = "0" * 64


def canonical_json(body: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) bytes of *body*: the same value always hashes the same way."""
    return rfc8785.dumps(dict(body))


def entry_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    """``sha256(prev_hash || JCS(body))`` as hex."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(body))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainEntry:
    """One stored entry as the verifier sees it."""

    seq: int
    prev_hash: str
    hash: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class ChainCheck:
    """The verdict of :func:`verify_chain`."""

    ok: bool
    entries: int
    first_bad: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "entries": self.entries}
        if not self.ok:
            out.update(first_bad=self.first_bad, reason=self.reason)
        return out


def verify_chain(entries: Iterable[ChainEntry], head: tuple[int, str] | None = None) -> ChainCheck:
    """Walk *entries* in stored order and name the first one that breaks the chain.

    *head* is the ``(seq, hash)`` recorded as the chain's head; when given, a log
    whose tail was cut off (the last entries deleted) is caught too.
    """
    prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            kind = "missing or reordered" if entry.seq > expected_seq else "reordered or duplicated"
            reason = f"expected entry {expected_seq} but found {entry.seq}: entries {kind}"
            return ChainCheck(False, count, min(entry.seq, expected_seq), reason)
        if entry.prev_hash != prev_hash:
            reason = "prev_hash does not match the previous entry: an entry was removed or moved"
            return ChainCheck(False, count, entry.seq, reason)
        if entry_hash(entry.prev_hash, entry.body) != entry.hash:
            return ChainCheck(False, count, entry.seq, "content does not match its hash: changed")
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    if head is not None and head != (expected_seq - 1, prev_hash):
        reason = f"the chain head says {head[0]} entries but the log ends at {expected_seq - 1}"
        first_bad = min(expected_seq, head[0] + 1)
        return ChainCheck(False, count, first_bad, reason)
    return ChainCheck(True, count)
