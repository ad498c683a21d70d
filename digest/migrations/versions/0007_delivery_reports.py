"""Bounce and complaint reports: deliveries.feedback, an index on deliveries.message_id, delivery_reports

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FEEDBACK = "feedback IN ('hard', 'soft', 'complaint')"
KINDS = "kind IN ('hard', 'soft', 'complaint', 'unknown')"


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feedback", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("feedback_at", sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_deliveries_feedback"), FEEDBACK)
        batch_op.create_index(batch_op.f("ix_deliveries_message_id"), ["message_id"], unique=False)
        batch_op.create_index("ix_deliveries_sent_at", ["sent_at"], unique=False)
    op.create_table(
        "delivery_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_key", sa.String(length=100), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.CheckConstraint(KINDS, name=op.f("ck_delivery_reports_kind")),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_reports_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_delivery_reports_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_reports")),
        sa.UniqueConstraint("report_key", name=op.f("uq_delivery_reports_report_key")),
    )
    with op.batch_alter_table("delivery_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_reports_delivery_id"), ["delivery_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_reports_subscriber_id"), ["subscriber_id"], unique=False)
        batch_op.create_index("ix_delivery_reports_kind_received", ["kind", "received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("delivery_reports")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_sent_at")
        batch_op.drop_index(batch_op.f("ix_deliveries_message_id"))
        batch_op.drop_constraint(op.f("ck_deliveries_feedback"), type_="check")
        batch_op.drop_column("feedback_at")
        batch_op.drop_column("feedback")
