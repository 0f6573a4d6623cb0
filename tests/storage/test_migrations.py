"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from paceline.domain.alerts import rule_from_dict
from paceline.storage import flag_models, lifecycle_models, runtime_models  # noqa: F401  (register their tables)
from paceline.storage.alert_repo import SqlAlertRepository
from paceline.storage.db import make_engine, migrate
from paceline.storage.models import Base

RUNBOOK = "https://wiki.example.com/runbooks/errors"
RULE = {"name": "errors", "signal": "error_rate", "above": 0.05, "window": "1h", "min_samples": 20}


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        migrate(engine)  # idempotent
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def _alembic(engine: Engine, step: str, revision: str) -> None:
    """Upgrade or downgrade to *revision*, the way :func:`paceline.storage.db.migrate` runs them."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("paceline.storage") / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, step)(cfg, revision)


def test_0011_gives_the_stored_rules_an_empty_runbook(database_url: str) -> None:
    engine = make_engine(database_url)
    now = datetime(2026, 3, 2, tzinfo=UTC)
    try:
        _alembic(engine, "upgrade", "0010")
        assert "runbook_url" not in {c["name"] for c in inspect(engine).get_columns("alert_rules")}
        with engine.begin() as conn:  # a rule stored before 0011
            conn.execute(
                text(
                    "INSERT INTO alert_rules (name, signal, comparison, threshold, window_seconds,"
                    " min_samples, severity, cooldown_seconds, channels, enabled, description,"
                    " created_by, created_at, updated_at) VALUES ('errors', 'error_rate', 'above', 0.05,"
                    " 3600, 20, 'warning', 3600, '[]', :on, 'Runbook: https://x.org/a', 'cli', :at, :at)"
                ),
                {"on": True, "at": now},
            )
        migrate(engine)
        with Session(engine) as session:
            repo = SqlAlertRepository(session)
            stored = repo.get_rule("errors")
            assert stored is not None and stored["runbook_url"] == ""
            doc = {**RULE, "runbook_url": RUNBOOK}
            repo.save_rule(rule_from_dict(doc), "cli", now)
            session.commit()
        with Session(engine) as session:
            got = SqlAlertRepository(session).get_rule("errors")
            assert got is not None and got["runbook_url"] == RUNBOOK
        _alembic(engine, "downgrade", "0010")  # and back
        assert "runbook_url" not in {c["name"] for c in inspect(engine).get_columns("alert_rules")}
        migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT runbook_url FROM alert_rules")).scalar_one() == ""
    finally:
        engine.dispose()
