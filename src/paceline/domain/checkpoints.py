"""Signed checkpoints of the audit chain head (Ed25519), and their offline verification.

A hash chain shows that no entry was changed, removed or reordered, but not that
its tail was cut off and the head row rewritten to match: the shortened chain is a
valid chain. A checkpoint signs ``(entries, head_hash, signed_at)`` with a key whose
public half lives elsewhere (with the SIEM, an auditor, WORM storage). Verifying a
checkpoint file against the log later proves that the log still holds every
checkpointed head, so truncation and rewriting before a checkpoint are caught.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from paceline.domain.audit_chain import GENESIS_HASH, canonical_json

STREAM = "paceline-audit"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement: the chain had *entries* entries ending in *head_hash*."""

    entries: int
    head_hash: str
    signed_at: str
    key_id: str
    signature: str  # base64 of the Ed25519 signature over :func:`payload`
    stream: str = STREAM
    version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json_line(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def payload(entries: int, head_hash: str, signed_at: str, stream: str = STREAM) -> bytes:
    """The signed bytes: RFC 8785 canonical JSON of the checkpoint's statement."""
    body = {
        "stream": stream,
        "version": FORMAT_VERSION,
        "entries": entries,
        "head_hash": head_hash,
        "signed_at": signed_at,
    }
    return canonical_json(body)


def generate_key_pair() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private_pem, public_pem_of(private)


def public_pem_of(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the checkpoint key is not an Ed25519 private key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key in *pem*, or ``ValueError`` naming what is wrong."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    """A short fingerprint: the first 16 hex digits of SHA-256 over the raw public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(private: Ed25519PrivateKey, entries: int, head_hash: str, signed_at: str) -> Checkpoint:
    signature = private.sign(payload(entries, head_hash, signed_at))
    return Checkpoint(
        entries, head_hash, signed_at, key_id(private.public_key()), base64.b64encode(signature).decode()
    )


def parse_checkpoint(line: str) -> Checkpoint:
    """A checkpoint from one JSON line, or ``ValueError`` naming the missing or bad field."""
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    fields = {"entries": int, "head_hash": str, "signed_at": str, "key_id": str, "signature": str}
    for name, kind in fields.items():
        if not isinstance(doc.get(name), kind) or isinstance(doc.get(name), bool):
            raise ValueError(f"field {name!r} is missing or not a {kind.__name__}")
    return Checkpoint(
        doc["entries"],
        doc["head_hash"],
        doc["signed_at"],
        doc["key_id"],
        doc["signature"],
        str(doc.get("stream", STREAM)),
        int(doc.get("version", FORMAT_VERSION)),
    )


@dataclass(frozen=True)
class CheckpointProblem:
    line: int
    entries: int
    reason: str


@dataclass(frozen=True)
class CheckpointCheck:
    """The verdict of :func:`verify_checkpoints`."""

    ok: bool
    checked: int
    chain_entries: int
    problems: tuple[CheckpointProblem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "chain_entries": self.chain_entries,
            "problems": [asdict(p) for p in self.problems],
        }


def check_one(
    cp: Checkpoint, public: Ed25519PublicKey, chain_entries: int, hash_at: Callable[[int], str | None]
) -> str | None:
    """Why *cp* does not hold for the current chain, or ``None`` when it does."""
    try:
        public.verify(
            base64.b64decode(cp.signature, validate=True),
            payload(cp.entries, cp.head_hash, cp.signed_at, cp.stream),
        )
    except (InvalidSignature, ValueError):
        return "the signature does not verify with this public key: forged or altered checkpoint"
    if cp.entries > chain_entries:
        return (
            f"the checkpoint covers {cp.entries} entries but the chain now has {chain_entries}: "
            "the log was truncated"
        )
    stored = GENESIS_HASH if cp.entries == 0 else hash_at(cp.entries)
    if stored != cp.head_hash:
        return f"entry {cp.entries} no longer has the checkpointed hash: the log was rewritten"
    return None


def verify_checkpoints(
    checkpoints: Iterable[tuple[int, Checkpoint]],
    public: Ed25519PublicKey,
    chain_entries: int,
    hash_at: Callable[[int], str | None],
) -> CheckpointCheck:
    """Check each ``(line number, checkpoint)`` against the chain's length and stored hashes."""
    problems: list[CheckpointProblem] = []
    checked = 0
    for line, cp in checkpoints:
        checked += 1
        reason = check_one(cp, public, chain_entries, hash_at)
        if reason is not None:
            problems.append(CheckpointProblem(line, cp.entries, reason))
    return CheckpointCheck(not problems, checked, chain_entries, tuple(problems))
