"""governance: frameworks and controls, evidence documents, audit findings, management reviews,
retention policies and runs, issued worker notices

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gov_frameworks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("notice", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("imported_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "gov_controls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(length=60), nullable=False),
        sa.Column("control_id", sa.String(length=60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("framework", "control_id", name="uq_gov_control"),
    )
    op.create_index("ix_gov_controls_framework", "gov_controls", ["framework"])
    op.create_table(
        "gov_evidence_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=True),
        sa.Column("control", sa.String(length=140), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("dated", sa.Date(), nullable=False),
        sa.Column("expires", sa.Date(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_gov_evidence_documents_control", "gov_evidence_documents", ["control"])
    op.create_index("ix_gov_evidence_documents_use_case", "gov_evidence_documents", ["use_case"])
    op.create_table(
        "gov_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=True),
        sa.Column("control", sa.String(length=140), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("raised_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_gov_findings_use_case", "gov_findings", ["use_case"])
    op.create_table(
        "gov_management_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("attendees", sa.JSON(), nullable=False),
        sa.Column("decisions", sa.Text(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "gov_retention_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=60), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("table_name"),
    )
    op.create_table(
        "gov_retention_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=60), nullable=False),
        sa.Column("cutoff", TZ, nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("dry_run", sa.Integer(), nullable=False),
        sa.Column("ran_by", sa.String(length=200), nullable=False),
        sa.Column("ran_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_gov_retention_runs_table_name", "gov_retention_runs", ["table_name"])
    op.create_table(
        "gov_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=200), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_gov_notices_use_case", "gov_notices", ["use_case"])


def downgrade() -> None:
    for name in (
        "gov_notices",
        "gov_retention_runs",
        "gov_retention_policies",
        "gov_management_reviews",
        "gov_findings",
        "gov_evidence_documents",
        "gov_controls",
        "gov_frameworks",
    ):
        op.drop_table(name)
