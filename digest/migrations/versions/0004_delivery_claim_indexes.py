"""deliveries: partial indexes on the rows still to do, for the worker's claim query

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = sa.text("status = 'queued'")
SENDING = sa.text("status = 'sending'")


def upgrade() -> None:
    op.create_index("ix_deliveries_queued", "deliveries", ["id"], sqlite_where=QUEUED, postgresql_where=QUEUED)
    op.create_index(
        "ix_deliveries_sending", "deliveries", ["claimed_at"], sqlite_where=SENDING, postgresql_where=SENDING
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_sending", table_name="deliveries")
    op.drop_index("ix_deliveries_queued", table_name="deliveries")
