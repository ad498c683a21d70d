"""edition_sections: a section of an edition has a stable key, a title, a place and a layout

Existing editions get one row per section title their items carry, in reading order. A draft or
scheduled weekly digest gets the digest's default layouts (lists for events and calls, cards for the
rest); every other edition keeps cards, the layout it was rendered with.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As digest.editions.core had them when this migration was written (a migration never imports app code).
_DEFAULT_KEYS = {
    "News": "news",
    "Upcoming events": "events",
    "Closing soon": "closing-soon",
    "Open calls": "open-calls",
    "Cluster achievements": "achievements",
}
_LISTED_IN_DIGESTS = ("events", "closing-soon", "open-calls")
_KEY_MAX = 40


def upgrade() -> None:
    op.create_table(
        "edition_sections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("layout", sa.String(length=8), nullable=False),
        sa.CheckConstraint("layout IN ('cards', 'list')", name=op.f("ck_edition_sections_layout")),
        sa.ForeignKeyConstraint(
            ["edition_id"], ["editions.id"], name=op.f("fk_edition_sections_edition_id_editions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edition_sections")),
        sa.UniqueConstraint("edition_id", "key", name=op.f("uq_edition_sections_edition_id")),
        sa.UniqueConstraint("edition_id", "title", name="uq_edition_sections_title"),
    )
    _carry_sections_over(op.get_bind())


def downgrade() -> None:
    op.drop_table("edition_sections")


def _carry_sections_over(connection: sa.Connection) -> None:
    editions = sa.table("editions", sa.column("id"), sa.column("type"), sa.column("status"))
    entries = sa.table("edition_items", sa.column("edition_id"), sa.column("section"), sa.column("position"))
    sections = sa.table(
        "edition_sections",
        sa.column("edition_id"),
        sa.column("key"),
        sa.column("title"),
        sa.column("position"),
        sa.column("layout"),
    )
    kinds = {row.id: (row.type, row.status) for row in connection.execute(sa.select(editions))}
    first_places = connection.execute(
        sa.select(entries.c.edition_id, entries.c.section, sa.func.min(entries.c.position).label("first_place"))
        .group_by(entries.c.edition_id, entries.c.section)
        .order_by(entries.c.edition_id, sa.text("first_place"))
    )
    rows: list[dict[str, object]] = []
    keys: dict[int, set[str]] = {}
    for edition_id, title, _ in first_places:
        taken = keys.setdefault(edition_id, set())
        key = _key(title, taken)
        taken.add(key)
        edition_type, status = kinds[edition_id]
        listed = edition_type == "digest" and status in ("draft", "scheduled") and key in _LISTED_IN_DIGESTS
        rows.append(
            {"edition_id": edition_id, "key": key, "title": title, "position": len(taken) - 1,
             "layout": "list" if listed else "cards"}
        )  # fmt: skip
    if rows:
        connection.execute(sa.insert(sections), rows)


def _key(title: str, taken: set[str]) -> str:
    base = _DEFAULT_KEYS.get(title) or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[: _KEY_MAX - 4] or "section"
    key, number = base, 2
    while key in taken:
        key, number = f"{base}-{number}", number + 1
    return key
