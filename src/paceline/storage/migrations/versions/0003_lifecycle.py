"""lifecycle: use cases, deliverables, sign-offs, gate history, technology options, requirements,
reviews, risks, training records and operations figures

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "architecture_requirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("measured", sa.String(length=200), nullable=False),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("verified_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("architecture_requirements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_architecture_requirements_use_case"), ["use_case"], unique=False)

    op.create_table(
        "deliverables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("use_case", "key", name="uq_deliverable"),
    )
    with op.batch_alter_table("deliverables", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliverables_use_case"), ["use_case"], unique=False)

    op.create_table(
        "lifecycle_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("comparisons", sa.JSON(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("use_case", "kind", name="uq_review"),
    )
    with op.batch_alter_table("lifecycle_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lifecycle_reviews_use_case"), ["use_case"], unique=False)

    op.create_table(
        "ops_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ops_figures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ops_figures_use_case"), ["use_case"], unique=False)

    op.create_table(
        "phase_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("move", sa.String(length=20), nullable=False),
        sa.Column("from_phase", sa.Integer(), nullable=False),
        sa.Column("to_phase", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("phase_transitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phase_transitions_use_case"), ["use_case"], unique=False)

    op.create_table(
        "risks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("residual_score", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("use_case", "key", name="uq_risk"),
    )
    with op.batch_alter_table("risks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risks_use_case"), ["use_case"], unique=False)

    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("check_key", sa.String(length=60), nullable=False),
        sa.Column("signed_by", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("use_case", "check_key", name="uq_signoff"),
    )
    with op.batch_alter_table("signoffs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signoffs_use_case"), ["use_case"], unique=False)

    op.create_table(
        "stakeholders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("use_case", "role", "person", name="uq_stakeholder"),
    )
    with op.batch_alter_table("stakeholders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stakeholders_use_case"), ["use_case"], unique=False)

    op.create_table(
        "tech_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("cost", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("use_case", "name", name="uq_tech_option"),
    )
    with op.batch_alter_table("tech_options", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tech_options_use_case"), ["use_case"], unique=False)

    op.create_table(
        "training_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=True),
        sa.Column("course", sa.String(length=200), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("pass_mark", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id", name="uq_training_record"),
    )
    with op.batch_alter_table("training_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_records_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_training_records_use_case"), ["use_case"], unique=False)

    op.create_table(
        "use_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("go_live", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("use_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_use_cases_owner"), ["owner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("use_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_use_cases_owner"))

    op.drop_table("use_cases")
    with op.batch_alter_table("training_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_records_use_case"))
        batch_op.drop_index(batch_op.f("ix_training_records_person_id"))

    op.drop_table("training_records")
    with op.batch_alter_table("tech_options", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tech_options_use_case"))

    op.drop_table("tech_options")
    with op.batch_alter_table("stakeholders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stakeholders_use_case"))

    op.drop_table("stakeholders")
    with op.batch_alter_table("signoffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signoffs_use_case"))

    op.drop_table("signoffs")
    with op.batch_alter_table("risks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risks_use_case"))

    op.drop_table("risks")
    with op.batch_alter_table("phase_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phase_transitions_use_case"))

    op.drop_table("phase_transitions")
    with op.batch_alter_table("ops_figures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ops_figures_use_case"))

    op.drop_table("ops_figures")
    with op.batch_alter_table("lifecycle_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lifecycle_reviews_use_case"))

    op.drop_table("lifecycle_reviews")
    with op.batch_alter_table("deliverables", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliverables_use_case"))

    op.drop_table("deliverables")
    with op.batch_alter_table("architecture_requirements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_architecture_requirements_use_case"))

    op.drop_table("architecture_requirements")
