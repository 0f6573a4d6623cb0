"""Signed checkpoints: signatures, and the chain still holding every checkpointed head."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paceline.domain import checkpoints as cps
from paceline.domain.audit_chain import GENESIS_HASH, entry_hash

PRIVATE_PEM, PUBLIC_PEM = cps.generate_key_pair()
PRIVATE = cps.load_private_key(PRIVATE_PEM)
PUBLIC = cps.load_public_key(PUBLIC_PEM)


def chain(n: int) -> list[str]:
    """The hashes of a chain of *n* entries (index 0 is entry 1)."""
    hashes, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        prev = entry_hash(prev, {"seq": seq})
        hashes.append(prev)
    return hashes


HASHES = chain(10)


def hash_at(hashes: list[str]):  # type: ignore[no-untyped-def]
    return lambda seq: hashes[seq - 1] if 1 <= seq <= len(hashes) else None


def test_a_checkpoint_of_the_head_holds() -> None:
    cp = cps.sign(PRIVATE, 10, HASHES[9], "2026-03-01T00:00:00Z")
    assert cp.key_id == cps.key_id(PUBLIC) and len(cp.key_id) == 16
    assert cps.check_one(cp, PUBLIC, 10, hash_at(HASHES)) is None
    assert cps.check_one(cp, PUBLIC, 12, hash_at(chain(12))) is None  # the chain grew: fine


def test_truncation_is_detected() -> None:
    cp = cps.sign(PRIVATE, 10, HASHES[9], "2026-03-01T00:00:00Z")
    reason = cps.check_one(cp, PUBLIC, 8, hash_at(HASHES[:8]))
    assert reason is not None and "truncated" in reason


def test_a_rewritten_chain_is_detected() -> None:
    cp = cps.sign(PRIVATE, 5, HASHES[4], "2026-03-01T00:00:00Z")
    other = [entry_hash(GENESIS_HASH, {"seq": 1, "x": 1}), *HASHES[1:]]
    rewritten = chain(10)
    rewritten[4] = "f" * 64
    reason = cps.check_one(cp, PUBLIC, 10, hash_at(rewritten))
    assert reason is not None and "rewritten" in reason
    assert cps.check_one(cp, PUBLIC, 10, hash_at(other)) is None  # entry 5's hash is what counts


def test_the_empty_chain_checkpoint() -> None:
    cp = cps.sign(PRIVATE, 0, GENESIS_HASH, "2026-03-01T00:00:00Z")
    assert cps.check_one(cp, PUBLIC, 0, hash_at([])) is None


@pytest.mark.parametrize(
    "change",
    [
        {"entries": 9},
        {"head_hash": HASHES[8]},
        {"signed_at": "2027-01-01T00:00:00Z"},
        {"signature": base64.b64encode(b"x" * 64).decode()},
        {"signature": "not base64!"},
    ],
)
def test_any_altered_field_breaks_the_signature(change: dict[str, object]) -> None:
    cp = replace(cps.sign(PRIVATE, 10, HASHES[9], "2026-03-01T00:00:00Z"), **change)  # type: ignore[arg-type]
    reason = cps.check_one(cp, PUBLIC, 10, hash_at(HASHES))
    assert reason is not None and "signature" in reason


def test_another_key_does_not_verify() -> None:
    cp = cps.sign(PRIVATE, 10, HASHES[9], "2026-03-01T00:00:00Z")
    other = cps.load_public_key(cps.generate_key_pair()[1])
    assert "signature" in (cps.check_one(cp, other, 10, hash_at(HASHES)) or "")


def test_verify_reports_each_failing_line() -> None:
    good = cps.sign(PRIVATE, 3, HASHES[2], "2026-03-01T00:00:00Z")
    gone = cps.sign(PRIVATE, 10, HASHES[9], "2026-03-02T00:00:00Z")
    check = cps.verify_checkpoints([(1, good), (2, gone)], PUBLIC, 6, hash_at(HASHES[:6]))
    assert not check.ok and check.checked == 2
    assert [(p.line, p.entries) for p in check.problems] == [(2, 10)]
    assert check.to_dict()["problems"][0]["reason"].endswith("truncated")


def test_checkpoint_lines_round_trip_and_bad_lines_are_named() -> None:
    cp = cps.sign(PRIVATE, 10, HASHES[9], "2026-03-01T00:00:00Z")
    assert cps.parse_checkpoint(cp.to_json_line()) == cp
    with pytest.raises(ValueError, match="not JSON"):
        cps.parse_checkpoint("{oops")
    doc = json.loads(cp.to_json_line())
    doc["entries"] = "10"
    with pytest.raises(ValueError, match="'entries'"):
        cps.parse_checkpoint(json.dumps(doc))
    with pytest.raises(ValueError, match="not a PEM public key"):
        cps.load_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="not an Ed25519 key"):
        cps.load_public_key(p256)


@given(st.integers(0, 10), st.integers(0, 10))
def test_a_checkpoint_holds_exactly_while_its_entry_is_kept(checkpointed: int, kept: int) -> None:
    head = GENESIS_HASH if checkpointed == 0 else HASHES[checkpointed - 1]
    cp = cps.sign(PRIVATE, checkpointed, head, "2026-03-01T00:00:00Z")
    holds = cps.check_one(cp, PUBLIC, kept, hash_at(HASHES[:kept])) is None
    assert holds is (kept >= checkpointed)
