"""Migration 0005 carries every edition's sections over: one row per section title its items carry, in
reading order, with the default keys; a draft weekly digest gets the digest's default layouts, every
other edition the cards it was rendered with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, insert, select

from digest.config import Config
from digest.db import alembic_config, make_engine, upgrade

TABLES = ("editions", "items", "edition_items")
CREATED = datetime(2026, 11, 30, 7, 0)  # stored naive UTC, as the models store it


@pytest.fixture
def engine(config: Config) -> Iterator[Engine]:
    engine = make_engine(config.database_url)
    yield engine
    engine.dispose()


def test_existing_editions_keep_their_sections_with_keys_and_layouts(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "0003")
    tables = MetaData()
    editions, items, entries = (
        Table(name, tables, autoload_with=engine) for name in ("editions", "items", "edition_items")
    )
    rows = [("digest", "draft", "d"), ("digest", "sent", "s"), ("newsletter", "draft", "n")]
    sections = ["Upcoming events", "News", "Spotlight: hydrogen!", "Open calls"]
    with engine.begin() as connection:
        for number, (kind, status, slug) in enumerate(rows, start=1):
            connection.execute(
                insert(editions).values(
                    id=number, type=kind, status=status, title=slug, subject=slug, slug=slug, preheader="", intro="",
                    recipient_count=0, held=False, warnings=[], failure_streak=0, created_at=CREATED,
                )
            )  # fmt: skip
        for number in range(1, 9):
            connection.execute(
                insert(items).values(
                    id=number, kind="news", status="approved", title=f"Item {number}", summary="", topics=[],
                    origin="feed", dedup_key=str(number), content_hash=str(number), featured=False,
                    collected_at=CREATED, updated_at=CREATED,
                )
            )  # fmt: skip
        for edition_id in (1, 2, 3):
            for position, item_id in enumerate(range(1, 9)):  # two items a section, in reading order
                section = sections[position // 2]
                connection.execute(
                    insert(entries).values(edition_id=edition_id, item_id=item_id, section=section, position=position)
                )

    upgrade(engine)

    carried = Table("edition_sections", MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        found = connection.execute(
            select(carried.c.edition_id, carried.c.position, carried.c.key, carried.c.title, carried.c.layout).order_by(
                carried.c.edition_id, carried.c.position
            )
        ).all()
    keys = ["events", "news", "spotlight-hydrogen", "open-calls"]
    assert [tuple(row) for row in found] == [
        (1, 0, "events", "Upcoming events", "list"),
        (1, 1, "news", "News", "cards"),
        (1, 2, "spotlight-hydrogen", "Spotlight: hydrogen!", "cards"),
        (1, 3, "open-calls", "Open calls", "list"),
        *[(2, place, key, title, "cards") for place, (key, title) in enumerate(zip(keys, sections, strict=True))],
        *[(3, place, key, title, "cards") for place, (key, title) in enumerate(zip(keys, sections, strict=True))],
    ]
