"""The pure chain verifier on hand-built chains."""

from __future__ import annotations

from dataclasses import replace

from paceline.domain.audit_chain import GENESIS_HASH, ChainEntry, entry_hash, verify_chain


def build(n: int) -> list[ChainEntry]:
    prev, out = GENESIS_HASH, []
    for seq in range(1, n + 1):
        body = {"seq": seq, "action": "create", "data": {"i": seq, "name": f"é{seq}"}}
        digest = entry_hash(prev, body)
        out.append(ChainEntry(seq, prev, digest, body))
        prev = digest
    return out


def test_intact_chain_verifies_with_its_head() -> None:
    chain = build(5)
    check = verify_chain(chain, head=(5, chain[-1].hash))
    assert check.ok and check.entries == 5
    assert check.to_dict() == {"ok": True, "entries": 5}


def test_empty_chain_is_intact() -> None:
    assert verify_chain([], head=None).ok


def test_changed_body_is_named() -> None:
    chain = build(5)
    chain[2] = replace(chain[2], body={**chain[2].body, "data": {"i": 99}})
    check = verify_chain(chain)
    assert (check.ok, check.first_bad) == (False, 3)
    assert "changed" in (check.reason or "")


def test_removed_entry_is_named() -> None:
    chain = build(5)
    del chain[1]
    check = verify_chain(chain)
    assert (check.ok, check.first_bad) == (False, 2)


def test_reordered_entries_are_caught() -> None:
    chain = build(5)
    chain[1], chain[2] = chain[2], chain[1]
    assert verify_chain(chain).first_bad == 2


def test_truncated_tail_is_caught_by_the_head() -> None:
    chain = build(5)
    check = verify_chain(chain[:3], head=(5, chain[-1].hash))
    assert (check.ok, check.first_bad) == (False, 4)


def test_hash_is_canonical_whatever_the_key_order() -> None:
    assert entry_hash(GENESIS_HASH, {"a": 1, "b": [1, 2]}) == entry_hash(GENESIS_HASH, {"b": [1, 2], "a": 1})
