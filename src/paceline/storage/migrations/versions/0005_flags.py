"""flags: flag definitions and sticky flag assignments

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flag_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_key", sa.String(length=120), nullable=False),
        sa.Column("targeting_key", sa.String(length=200), nullable=False),
        sa.Column("variant", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("flag_version", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("flag_key", "targeting_key", name="uq_flag_assignment"),
    )
    op.create_table(
        "flags",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("default_variant", sa.String(length=80), nullable=False),
        sa.Column("canary_variant", sa.String(length=80), nullable=True),
        sa.Column("canary_percent", sa.Float(), nullable=False),
        sa.Column("canary_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("targeting", sa.JSON(), nullable=False),
        sa.Column("guardrails", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("flags")
    op.drop_table("flag_assignments")
