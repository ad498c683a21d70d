"""CHECK constraints on the status and kind columns; drop APScheduler's job store table

The scheduler keeps its jobs in memory now, so the apscheduler_jobs table goes. The allowed values are
written out here, not imported from digest.models: a migration describes the schema of its day.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> column -> the values it may hold
CHECKS: dict[str, dict[str, tuple[str, ...]]] = {
    "sources": {"kind": ("news", "event", "call", "achievement", "auto")},
    "items": {
        "kind": ("news", "event", "call", "achievement"),
        "status": ("pending", "approved", "rejected", "published", "expired"),
    },
    "editions": {
        "type": ("newsletter", "digest"),
        "status": ("draft", "scheduled", "sending", "paused", "sent", "cancelled"),
    },
    "subscribers": {"status": ("pending", "active", "unsubscribed", "bounced", "complained")},
    "deliveries": {"status": ("queued", "sending", "sent", "failed", "bounced")},
    "editors": {"role": ("editor", "admin")},
}


def upgrade() -> None:
    for table, columns in CHECKS.items():
        # On SQLite, batch mode rebuilds the table with its constraints (env.py turns foreign keys off meanwhile).
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in columns.items():
                allowed = ", ".join(f"'{value}'" for value in values)
                batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), f"{column} IN ({allowed})")
    op.drop_table("apscheduler_jobs")


def downgrade() -> None:
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"], unique=False)
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
