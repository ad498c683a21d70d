"""archive_stamp: one number raised whenever what the public archive shows changes; an index on
items (status, kind, updated_at) that answers the archive's other "what changed" checks from the index

Every web process keys its kept archive pages on it, so a send seen by one process (the worker) is
seen at once by the others.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = op.create_table(
        "archive_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_stamp")),
    )
    op.bulk_insert(stamp, [{"id": 1, "version": 0, "changed_at": datetime.now(UTC).replace(tzinfo=None)}])
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index("ix_items_status_kind_updated_at", ["status", "kind", "updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_status_kind_updated_at")
    op.drop_table("archive_stamp")
