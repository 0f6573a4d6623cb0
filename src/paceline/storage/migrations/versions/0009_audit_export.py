"""audit export and single sign-on: SIEM export cursors, OpenID Connect identities

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_export_cursors",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("target", sa.String(length=1000), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("file_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "oidc_identities",
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("issuer", "subject"),
    )


def downgrade() -> None:
    op.drop_table("oidc_identities")
    op.drop_table("audit_export_cursors")
