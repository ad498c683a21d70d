"""Editions: create them from the approved queue, list them, and follow their delivery counts."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from digest.errors import DigestError
from digest.models import DELIVERY_STATUSES, EDITION_TYPES, Delivery, Edition, EditionItem, Item, utcnow

# The order of sections in an edition, and which item kind each one holds.
SECTIONS = (
    ("news", "News"),
    ("event", "Upcoming events"),
    ("call", "Open calls"),
    ("achievement", "Cluster achievements"),
)


class EditionError(DigestError):
    """An edition operation that cannot be done, worded for the editor."""


def create_edition(
    session: Session, edition_type: str, timezone: str, title: str | None = None, now: datetime | None = None
) -> Edition:
    """A draft edition of every approved item that no sent or sending edition carries yet."""
    if edition_type not in EDITION_TYPES:
        raise EditionError(f"unknown edition type {edition_type!r}; use one of {', '.join(EDITION_TYPES)}")
    now = now or utcnow()
    items = _unsent_approved_items(session)
    if not items:
        raise EditionError("no approved items to put in an edition (approve some with `digest queue approve ID…`)")
    local_day = now.astimezone(ZoneInfo(timezone)).date()
    label = "Weekly digest" if edition_type == "digest" else "Newsletter"
    title = (title or f"{label} — {local_day.day} {local_day:%B %Y}").strip()
    edition = Edition(
        type=edition_type,
        title=title,
        subject=title,
        preheader=_preheader(items),
        slug=_unique_slug(session, f"{edition_type}-{local_day.isoformat()}"),
        status="draft",
        created_at=now,
    )
    edition.entries = _entries_by_section(items)
    session.add(edition)
    session.flush()
    return edition


def _unsent_approved_items(session: Session) -> list[Item]:
    carried = (
        select(EditionItem.item_id)
        .join(Edition, Edition.id == EditionItem.edition_id)
        .where(Edition.status.in_(("sending", "sent")))
    )
    query = select(Item).where(Item.status == "approved", Item.id.not_in(carried))
    return list(session.scalars(query))


def _entries_by_section(items: list[Item]) -> list[EditionItem]:
    entries = []
    for kind, section in SECTIONS:
        chosen = sorted((item for item in items if item.kind == kind), key=_section_order(kind))
        for item in chosen:
            entries.append(EditionItem(item=item, item_id=item.id, section=section, position=len(entries)))
    return entries


def _section_order(kind: str):
    far_future = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    if kind == "event":
        return lambda item: (not item.featured, item.starts_at or far_future, item.id)
    if kind == "call":
        return lambda item: (not item.featured, item.deadline or far_future, item.id)
    return lambda item: (not item.featured, -(item.published_at or item.collected_at).timestamp(), item.id)


def _preheader(items: list[Item]) -> str:
    counts = {kind: sum(1 for item in items if item.kind == kind) for kind, _ in SECTIONS}
    words = {
        "news": ("news item", "news items"),
        "event": ("event", "events"),
        "call": ("open call", "open calls"),
        "achievement": ("achievement", "achievements"),
    }
    parts = [f"{n} {words[kind][n != 1]}" for kind, n in counts.items() if n]
    return "This week: " + ", ".join(parts)


def _unique_slug(session: Session, base: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    taken = set(session.scalars(select(Edition.slug).where(Edition.slug.like(f"{base}%"))))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def get_edition(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id, options=[selectinload(Edition.entries).selectinload(EditionItem.item)])
    if edition is None:
        raise EditionError(f"no edition with id {edition_id} (see `digest edition list`)")
    return edition


def list_editions(session: Session) -> list[Edition]:
    query = (
        select(Edition).options(selectinload(Edition.entries)).order_by(Edition.created_at.desc(), Edition.id.desc())
    )
    return list(session.scalars(query))


def delivery_counts(session: Session, edition_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per edition, how many deliveries are in each status (every status present, zero or not)."""
    counts = {edition_id: dict.fromkeys(DELIVERY_STATUSES, 0) for edition_id in edition_ids}
    if not edition_ids:
        return counts
    rows = session.execute(
        select(Delivery.edition_id, Delivery.status, func.count())
        .where(Delivery.edition_id.in_(edition_ids))
        .group_by(Delivery.edition_id, Delivery.status)
    )
    for edition_id, status, number in rows:
        counts[edition_id][status] = number
    return counts


def schedule(session: Session, edition_id: int, at: datetime, now: datetime | None = None) -> Edition:
    edition = get_edition(session, edition_id)
    if edition.status not in ("draft", "scheduled"):
        raise EditionError(f"edition {edition_id} is {edition.status}; only a draft can be scheduled")
    if at.tzinfo is None:
        raise EditionError("give the time with its offset, e.g. 2026-11-30T09:00:00+01:00")
    if at <= (now or utcnow()):
        raise EditionError(f"{at.isoformat()} is in the past; schedule a time to come")
    edition.status = "scheduled"
    edition.scheduled_at = at
    return edition


def cancel(session: Session, edition_id: int) -> Edition:
    edition = get_edition(session, edition_id)
    if edition.status not in ("draft", "scheduled"):
        raise EditionError(
            f"edition {edition_id} is {edition.status}; only a draft or scheduled edition can be cancelled"
        )
    edition.status = "cancelled"
    edition.scheduled_at = None
    return edition
