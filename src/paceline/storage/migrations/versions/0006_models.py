"""models: the model registry (models, versions and stages, stage history, approvals, model
cards, retraining schedules and retraining requests)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("from_stage", sa.String(length=20), nullable=False),
        sa.Column("to_stage", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("model_approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_approvals_model"), ["model"], unique=False)

    op.create_table(
        "model_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model", "version", name="uq_model_card"),
    )
    with op.batch_alter_table("model_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_cards_model"), ["model"], unique=False)

    op.create_table(
        "model_retraining_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("model_retraining_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_retraining_requests_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_model_retraining_requests_model"), ["model"], unique=False)

    op.create_table(
        "model_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("retrain_every_days", sa.Integer(), nullable=False),
        sa.Column("remind_days_before", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model"),
    )
    op.create_table(
        "model_stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("from_stage", sa.String(length=20), nullable=True),
        sa.Column("to_stage", sa.String(length=20), nullable=False),
        sa.Column("cause", sa.String(length=20), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("model_stage_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_stage_changes_model"), ["model"], unique=False)

    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("artifact_hash", sa.String(length=100), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deprecation_date", sa.Date(), nullable=True),
        sa.Column("retirement_date", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model", "version", name="uq_model_version"),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_versions_model"), ["model"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_versions_use_case"), ["use_case"], unique=False)

    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("task", sa.String(length=30), nullable=False),
        sa.Column("positive_label", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_use_case"), ["use_case"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_models_use_case"))

    op.drop_table("models")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_versions_use_case"))
        batch_op.drop_index(batch_op.f("ix_model_versions_model"))

    op.drop_table("model_versions")
    with op.batch_alter_table("model_stage_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_stage_changes_model"))

    op.drop_table("model_stage_changes")
    op.drop_table("model_schedules")
    with op.batch_alter_table("model_retraining_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_retraining_requests_model"))
        batch_op.drop_index(batch_op.f("ix_model_retraining_requests_incident_id"))

    op.drop_table("model_retraining_requests")
    with op.batch_alter_table("model_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_cards_model"))

    op.drop_table("model_cards")
    with op.batch_alter_table("model_approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_approvals_model"))

    op.drop_table("model_approvals")
