"""The audit log in the operational store, on SQLite and PostgreSQL.

Tampering is done the way an attacker with database access would: plain SQL on
the table, behind the application's back.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from paceline.bootstrap import Workspace
from paceline.errors import Conflict
from paceline.services.access import operator

OP = operator()


def add_users(ws: Workspace, n: int) -> None:
    for i in range(n):
        with ws.access() as access:
            access.add_user(OP, f"user{i}", "reviewer")


def test_every_change_is_audited_in_its_transaction(workspace: Workspace) -> None:
    add_users(workspace, 2)
    with workspace.store.read() as s:
        rows = s.execute(text("SELECT seq, actor, action, entity FROM audit_entries ORDER BY seq")).all()
    assert [(r.action, r.entity) for r in rows] == [
        ("create", "users"),
        ("create", "role_grants"),
        ("create", "users"),
        ("create", "role_grants"),
    ]
    assert {r.actor for r in rows} == {"cli:operator"}
    with workspace.store.read() as s:
        ids = s.execute(text("SELECT entity_id FROM audit_entries ORDER BY seq")).scalars().all()
    assert ids[0] == "1" and all(ids)
    assert workspace.verify_audit().to_dict() == {"ok": True, "entries": 4}


def test_a_failed_change_leaves_no_audit_entry(workspace: Workspace) -> None:
    add_users(workspace, 1)
    with pytest.raises(Conflict), workspace.access() as access:
        access.add_user(OP, "user0", "admin")
    assert workspace.verify_audit().entries == 2


def test_secrets_never_enter_the_log(workspace: Workspace) -> None:
    with workspace.access() as access:
        access.add_user(OP, "ada", "admin", password="correct horse battery")
        token = access.create_token(OP, "ada")
    with workspace.store.read() as s:
        dump = " ".join(str(r) for r in s.execute(text("SELECT data FROM audit_entries")).all())
    assert "argon2" not in dump and token not in dump and "<redacted>" in dump


def tamper(ws: Workspace, sql: str) -> None:
    with ws.store.engine.begin() as conn:
        conn.execute(text(sql))


@pytest.mark.parametrize(
    ("sql", "first_bad"),
    [
        ("UPDATE audit_entries SET actor = 'cli:mallory' WHERE seq = 3", 3),
        ("DELETE FROM audit_entries WHERE seq = 2", 2),
        ("UPDATE audit_entries SET seq = seq + 100 WHERE seq IN (2, 3)", 2),
        ("DELETE FROM audit_entries WHERE seq >= 5", 5),
    ],
    ids=["modified", "deleted", "reordered", "truncated"],
)
def test_verify_names_the_first_bad_entry(workspace: Workspace, sql: str, first_bad: int) -> None:
    add_users(workspace, 3)
    assert workspace.verify_audit().ok
    tamper(workspace, sql)
    check = workspace.verify_audit()
    assert (check.ok, check.first_bad) == (False, first_bad), check


def test_swapping_two_entries_is_caught(workspace: Workspace) -> None:
    add_users(workspace, 2)
    tamper(workspace, "UPDATE audit_entries SET seq = -1 WHERE seq = 2")
    tamper(workspace, "UPDATE audit_entries SET seq = 2 WHERE seq = 3")
    tamper(workspace, "UPDATE audit_entries SET seq = 3 WHERE seq = -1")
    check = workspace.verify_audit()
    assert (check.ok, check.first_bad) == (False, 2)


def test_concurrent_writers_never_fork_the_chain(workspace: Workspace) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(5):
                with workspace.access() as access:
                    access.add_user(OP, f"w{k}-{i}", "reviewer")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert workspace.verify_audit().to_dict() == {"ok": True, "entries": 40}
