"""Alembic environment: runs on the connection handed in by :func:`paceline.storage.db.migrate`."""

from __future__ import annotations

from alembic import context

from paceline.storage import (  # noqa: F401  (register their tables)
    alert_models,
    audit_export_repo,
    enablement_models,
    flag_models,
    governance_models,
    lifecycle_models,
    model_models,
    oidc_repo,
    runtime_models,
)
from paceline.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` on the command line
    raise SystemExit("run migrations through paceline (Workspace.open applies them)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
