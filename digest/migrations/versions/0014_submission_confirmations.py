"""submissions: confirmations sent by the worker; an index on those still due

A submission's confirmation used to be sent from the web process; it is now due while
`notified_status` is NULL, and the worker sends it. Rows stored before were confirmed already:
they are marked told ("pending", which keeps any outcome email still owed to them).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNCONFIRMED = sa.text("notified_status IS NULL")


def upgrade() -> None:
    op.execute("UPDATE submissions SET notified_status = 'pending' WHERE notified_status IS NULL")
    op.create_index(
        "ix_submissions_unconfirmed", "submissions", ["id"], sqlite_where=UNCONFIRMED, postgresql_where=UNCONFIRMED
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_unconfirmed", table_name="submissions")
