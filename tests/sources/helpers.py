"""Helpers shared by the collector tests: sources, settings, reading back what was stored."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from digest.config import CollectConfig
from digest.db import transaction
from digest.models import Item, Source
from digest.runtime import Runtime

# Fixture dates are fixed, so the tests run as if it were this moment.
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

FAST = CollectConfig(
    concurrency=8,
    connect_timeout=2.0,
    read_timeout=1.0,
    total_timeout=5.0,
    max_body_bytes=2 * 1024 * 1024,
    backoff_base_seconds=60.0,
    backoff_cap_seconds=3600.0,
    allow_private_addresses=True,  # the test servers listen on 127.0.0.1
)


def add_source(runtime: Runtime, name: str, url: str, kind: str = "auto", **fields: object) -> int:
    with transaction(runtime.sessions) as session:
        values: dict[str, object] = {"enabled": True, "consecutive_errors": 0, **fields}
        source = Source(name=name, url=url, kind=kind, **values)
        session.add(source)
        session.flush()
        return source.id


def source_row(runtime: Runtime, name: str) -> Source:
    with runtime.sessions() as session:
        source = session.scalar(select(Source).where(Source.name == name))
        assert source is not None
        return source


def items_of(runtime: Runtime, name: str | None = None) -> list[Item]:
    with runtime.sessions() as session:
        query = select(Item).order_by(Item.id)
        if name is not None:
            query = query.join(Source, Item.source_id == Source.id).where(Source.name == name)
        return list(session.scalars(query))


def by_name(results: list) -> dict:
    return {result.source: result for result in results}
