"""enablement: competencies, courses, curricula, learning statements and imports, champions,
team goals, frontline review sessions and learner links

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _keyed(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("key", sa.String(length=80), nullable=False),
        *columns,
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def upgrade() -> None:
    _keyed(
        "competencies",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
    )
    _keyed(
        "courses",
        sa.Column("use_case", sa.String(length=80), nullable=True),
        sa.Column("doc", sa.JSON(), nullable=False),
    )
    _keyed(
        "curricula",
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=80), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
    )
    _keyed(
        "team_goals",
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("kpi", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("incentive", sa.Text(), nullable=False),
    )
    op.create_table(
        "learning_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("course", sa.String(length=80), nullable=False),
        sa.Column("verb", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("statement_id", name="uq_learning_statement"),
    )
    op.create_table(
        "learning_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("loaded", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("ignored", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("voided", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "champions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team", "use_case", "person_id", name="uq_champion"),
    )
    op.create_table(
        "review_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case", sa.String(length=80), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("scheduled_on", sa.Date(), nullable=False),
        sa.Column("cadence", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=True),
        sa.Column("attendees", sa.Integer(), nullable=False),
        sa.Column("champion_id", sa.Integer(), nullable=True),
        sa.Column("feedback", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("use_case", "team", "scheduled_on", name="uq_review_session"),
    )
    op.create_table(
        "learner_links",
        sa.Column("login", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("linked_by", sa.String(length=200), nullable=False),
        sa.Column("linked_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("login"),
    )
    indexes = {
        "courses": ["use_case"],
        "curricula": ["use_case"],
        "team_goals": ["team", "use_case"],
        "learning_statements": ["person_id", "course"],
        "champions": ["team", "use_case"],
        "review_sessions": ["use_case"],
    }
    for table, columns in indexes.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade() -> None:
    for table in (
        "learner_links",
        "review_sessions",
        "champions",
        "learning_imports",
        "learning_statements",
        "team_goals",
        "curricula",
        "courses",
        "competencies",
    ):
        op.drop_table(table)
