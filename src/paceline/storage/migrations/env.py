"""Alembic environment: runs on the connection handed in by :func:`paceline.storage.db.migrate`."""

from __future__ import annotations

from alembic import context

from paceline.storage import flag_models, lifecycle_models, runtime_models  # noqa: F401  (register their tables)
from paceline.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` on the command line
    raise SystemExit("run migrations through paceline (Workspace.open applies them)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
