"""The operational store: engine set-up, migrations on open, and audited sessions.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (several times faster for small
transactions, notes/stack.md) and opens write transactions with ``BEGIN
IMMEDIATE`` so that concurrent writers queue instead of failing half-way.
PostgreSQL is used through any ``postgresql+psycopg://`` URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from paceline.errors import UsageError
from paceline.storage import audit

_IMMEDIATE = "paceline_sqlite_immediate"


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engine(url: str) -> Engine:
    """An engine for *url*, with SQLite tuned as described in the module docstring."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return _sqlite_engine(url)
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except Exception as exc:  # bad URL, missing driver
        raise UsageError(
            f"cannot use database URL {url!r}: {exc}",
            fix="set PACELINE_DATABASE_URL to e.g. postgresql+psycopg://user@host/db",
        ) from exc


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration that has not run yet (idempotent, safe to race)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("paceline.storage") / "migrations"))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(727401)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    """Sessions on the operational database, each with audited changes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        audit.install(self._sessions)
        self._readonly = (
            self.engine.execution_options(**{_IMMEDIATE: False})
            if self.engine.dialect.name == "sqlite"
            else self.engine
        )

    @classmethod
    def open(cls, url: str) -> Store:
        """Open the store at *url* and bring its schema up to date."""
        store = cls(url)
        migrate(store.engine)
        return store

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self, actor: str) -> Iterator[Session]:
        """A session that commits on success (with its audit entries) and rolls back on error."""
        with self._sessions() as session:
            audit.set_actor(session, actor)
            with session.begin():
                yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; it never takes the SQLite write lock."""
        with Session(self._readonly, expire_on_commit=False) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
