"""items.all_day: the source gave dates without times (an all-day event's days, a call's last day)

Items stored before it get the flag where their times say so in their own zone: an event from midnight
to midnight or to 23:59:59 (how date-only ends were stored), a deadline at 23:59:59 (a date-only one).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ITEMS = sa.table(
    "items",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("starts_at", sa.DateTime),
    sa.column("ends_at", sa.DateTime),
    sa.column("deadline", sa.DateTime),
    sa.column("timezone", sa.String),
    sa.column("all_day", sa.Boolean),
)
_DAY_EDGES = (time(0, 0), time(23, 59, 59))


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("all_day", sa.Boolean(), server_default=sa.false(), nullable=False))
    connection = op.get_bind()
    query = sa.select(
        _ITEMS.c.id, _ITEMS.c.kind, _ITEMS.c.starts_at, _ITEMS.c.ends_at, _ITEMS.c.deadline, _ITEMS.c.timezone
    ).where(_ITEMS.c.timezone.is_not(None))
    ids = [row.id for row in connection.execute(query) if _was_all_day(row)]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        connection.execute(sa.update(_ITEMS).where(_ITEMS.c.id.in_(chunk)).values(all_day=True))


def _local(value: datetime | None, zone: ZoneInfo) -> time | None:
    return None if value is None else value.replace(tzinfo=UTC).astimezone(zone).time()


def _was_all_day(row: sa.Row) -> bool:
    try:
        zone = ZoneInfo(row.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    if row.kind == "event" and row.starts_at is not None:
        end = _local(row.ends_at, zone)
        return _local(row.starts_at, zone) == time(0, 0) and (end is None or end in _DAY_EDGES)
    return row.kind == "call" and _local(row.deadline, zone) == time(23, 59, 59)


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("all_day")
