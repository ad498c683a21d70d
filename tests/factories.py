"""Small builders for test data, written straight through the models."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from digest.models import Item, Subscriber


def make_item(session: Session, title: str, kind: str = "news", status: str = "approved", **fields: object) -> Item:
    key = hashlib.sha256(title.encode()).hexdigest()
    now = datetime.now(UTC)
    defaults: dict[str, object] = {
        "summary": f"<p>About {title}.</p>",
        "url": f"https://clusters.example.eu/{key[:10]}",
        "organisation": "Test Cluster",
        "country": "Belgium",
        "published_at": now - timedelta(days=1),
        "origin": "feed",
        "dedup_key": key,
        "content_hash": key,
    }
    if kind == "event":
        defaults |= {
            "starts_at": now + timedelta(days=10),
            "ends_at": now + timedelta(days=10, hours=8),
            "location": "Brussels, Belgium",
            "timezone": "Europe/Brussels",
        }
    if kind == "call":
        defaults |= {"deadline": now + timedelta(days=30)}
    item = Item(kind=kind, status=status, title=title, **(defaults | fields))
    session.add(item)
    session.flush()
    return item


def make_subscribers(session: Session, count: int, status: str = "active", prefix: str = "reader") -> list[Subscriber]:
    subscribers = [
        Subscriber(
            email=f"{prefix}{n}@example.org",
            name=f"Reader {n}",
            status=status,
            preferences={"editions": ["digest", "newsletter"], "topics": []},
        )
        for n in range(count)
    ]
    session.add_all(subscribers)
    session.flush()
    return subscribers


def store_unknown_kind(session: Session, item: Item, kind: str = "podcast") -> None:
    """Give a stored item a kind no template knows, past the database's CHECK on items.kind, as a row from
    before that constraint would have: what the rendering's guard for such an item needs to be tried on."""
    session.flush()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA ignore_check_constraints=ON"))
        session.execute(update(Item).where(Item.id == item.id).values(kind=kind))
        session.execute(text("PRAGMA ignore_check_constraints=OFF"))
    else:  # each test has a database of its own
        session.execute(text("ALTER TABLE items DROP CONSTRAINT ck_items_kind"))
        session.execute(update(Item).where(Item.id == item.id).values(kind=kind))
    session.expire(item, ["kind"])
