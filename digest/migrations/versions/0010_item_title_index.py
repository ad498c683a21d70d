"""items.title_head/title_tail, and title_key for every item: near-duplicate titles found by index

A submission looked for near-identical titles by reading every recent item's title in Python while
it held SQLite's write lock; it now asks the indexes. Existing items get their keys here.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.titles import title_index

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title_head", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("title_tail", sa.String(length=500), nullable=True))
        batch_op.create_index(batch_op.f("ix_items_title_head"), ["title_head"], unique=False)
        batch_op.create_index(batch_op.f("ix_items_title_tail"), ["title_tail"], unique=False)
    _fill_title_index()


def _fill_title_index() -> None:
    connection = op.get_bind()
    items = sa.table(
        "items", sa.column("id", sa.Integer), sa.column("title", sa.String),
        sa.column("title_key", sa.String), sa.column("title_head", sa.String), sa.column("title_tail", sa.String),
    )  # fmt: skip
    update = (
        sa.update(items)
        .where(items.c.id == sa.bindparam("item_id"))
        .values(title_key=sa.bindparam("key"), title_head=sa.bindparam("head"), title_tail=sa.bindparam("tail"))
    )
    last = 0
    while True:
        query = sa.select(items.c.id, items.c.title).where(items.c.id > last).order_by(items.c.id).limit(BATCH)
        rows = connection.execute(query).all()
        if not rows:
            return
        values = []
        for item_id, title in rows:
            key, head, tail = title_index(title)
            values.append({"item_id": item_id, "key": key, "head": head, "tail": tail})
        connection.execute(update, values)
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_title_tail"))
        batch_op.drop_index(batch_op.f("ix_items_title_head"))
        batch_op.drop_column("title_tail")
        batch_op.drop_column("title_head")
