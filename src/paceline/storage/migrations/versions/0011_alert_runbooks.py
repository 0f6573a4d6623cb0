"""alert runbooks: an alert rule names its runbook (``alert_rules.runbook_url``, empty for none)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NOT NULL with a server default: the rules already stored get "" (no runbook), on SQLite
    # (ALTER TABLE ... ADD COLUMN) and PostgreSQL alike.
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("runbook_url", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_column("runbook_url")
