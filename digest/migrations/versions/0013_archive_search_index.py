"""GIN indexes on the archive search's documents, on PostgreSQL

The search computed to_tsvector(...) of every published item and sent edition on every query; it now
matches the expressions of digest.search_document, which these indexes are built on. SQLite searches
its own FTS5 table (archive/fts.py) and gets nothing here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from digest.search_document import edition_vector, item_vector

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns the documents read, as they are at this revision.
ITEMS = sa.table(
    "items", *(sa.column(name, sa.String) for name in ("title", "summary", "organisation", "country", "kind"))
)
EDITIONS = sa.table(
    "editions", *(sa.column(name, sa.String) for name in ("title", "subject", "preheader", "intro", "type"))
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index("ix_items_search", "items", [item_vector(ITEMS)], postgresql_using="gin")
    op.create_index("ix_editions_search", "editions", [edition_vector(EDITIONS)], postgresql_using="gin")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_editions_search", table_name="editions")
    op.drop_index("ix_items_search", table_name="items")
