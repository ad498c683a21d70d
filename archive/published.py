"""What the public may see: sent editions, the items they carried, and events an editor approved.

Every page, feed, search result, calendar and export file of the archive goes through these queries,
so nothing unsent or unvetted can reach the public by another road.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, defer, selectinload

from digest.models import Delivery, Edition, EditionItem, Item

PUBLISHED_ITEM_STATUSES = ("published", "expired")  # items that went out in an edition
VETTED_EVENT_STATUSES = ("approved", "published")  # never pending or rejected submissions


def is_sent() -> ColumnElement[bool]:
    return Edition.status == "sent"


def _newest_first() -> tuple[ColumnElement, ...]:
    return (Edition.sent_at.desc(), Edition.id.desc())


@dataclass(frozen=True)
class Page:
    editions: list[Edition]
    number: int
    count: int  # how many pages there are (at least 1)
    total: int  # how many sent editions there are

    @property
    def has_newer(self) -> bool:
        return self.number > 1

    @property
    def has_older(self) -> bool:
        return self.number < self.count


def sent_editions(session: Session, limit: int | None = None, offset: int = 0) -> list[Edition]:
    query = (
        select(Edition)
        .options(*without_documents())  # loaded on use: lists don't need them
        .where(is_sent())
        .order_by(*_newest_first())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def edition_page(session: Session, number: int, per_page: int) -> Page | None:
    """One page of the sent editions, newest first; None for a page beyond the last."""
    total = session.scalar(select(func.count()).select_from(Edition).where(is_sent())) or 0
    count = max(1, -(-total // per_page))
    if number < 1 or number > count:
        return None
    editions = sent_editions(session, limit=per_page, offset=(number - 1) * per_page)
    return Page(editions=editions, number=number, count=count, total=total)


def readable_edition(session: Session, slug: str) -> Edition | None:
    """The edition behind an archive link: a sent one, or one still being sent that some subscriber
    already has (its "view in browser" link must work for them during a long send)."""
    delivered = exists().where(Delivery.edition_id == Edition.id, Delivery.status == "sent")
    readable = or_(is_sent(), and_(Edition.status == "sending", delivered))
    edition = session.scalar(select(Edition).where(Edition.slug == slug, readable))
    return edition if edition is not None and edition.html else None


def stored_public_copy(edition: Edition) -> str | None:
    """The public copy rendered when the edition was frozen (``archive_html``); None for an edition
    frozen before there was one (its ``archive_html`` is empty, or the untrimmed subscriber email)."""
    document = edition.archive_html
    return document if document and not personal_leaks(document, "") else None


_MARKER = re.compile(r"XDIGESTX-[A-Za-z0-9_]+-XDIGESTX")
_TOKEN_PATH = re.compile(r"/(?:unsubscribe|preferences|confirm)/[A-Za-z0-9._~%-]+")


def personal_leaks(document: str, base_url: str) -> list[str]:
    """Anything in a public document that belongs to one subscriber: a per-recipient marker, or a
    token link of the site (the last guard before a page or an export file goes out)."""
    leaks = _MARKER.findall(document)
    if base_url:
        site = re.escape(base_url.rstrip("/"))
        leaks += [match.group(0) for match in re.finditer(site + _TOKEN_PATH.pattern, document)]
    return leaks


def without_documents() -> list[Any]:
    """Loader options that leave the (large) frozen documents out of a query until they are used."""
    return [defer(Edition.html), defer(Edition.text), defer(Edition.archive_html)]


def neighbours(session: Session, edition: Edition) -> tuple[Edition | None, Edition | None]:
    """The sent editions just before (older) and just after (newer) this one."""
    if edition.status != "sent" or edition.sent_at is None:
        latest = sent_editions(session, limit=1)
        return (latest[0] if latest else None), None
    same_time = Edition.sent_at == edition.sent_at
    older_clause = or_(Edition.sent_at < edition.sent_at, and_(same_time, Edition.id < edition.id))
    newer_clause = or_(Edition.sent_at > edition.sent_at, and_(same_time, Edition.id > edition.id))
    editions = select(Edition).options(*without_documents()).where(is_sent())
    older = session.scalar(editions.where(older_clause).order_by(*_newest_first()).limit(1))
    newer = session.scalar(editions.where(newer_clause).order_by(Edition.sent_at, Edition.id).limit(1))
    return older, newer


def entries_of(session: Session, edition_ids: list[int]) -> dict[int, list[EditionItem]]:
    """Each edition's items in their frozen order."""
    grouped: dict[int, list[EditionItem]] = {edition_id: [] for edition_id in edition_ids}
    if not edition_ids:
        return grouped
    query = (
        select(EditionItem)
        .options(selectinload(EditionItem.item))
        .where(EditionItem.edition_id.in_(edition_ids))
        .order_by(EditionItem.edition_id, EditionItem.position)
    )
    for entry in session.scalars(query):
        grouped[entry.edition_id].append(entry)
    return grouped


def is_published_item() -> ColumnElement[bool]:
    """An item a sent edition carried, and not withdrawn since."""
    carried = (
        select(EditionItem.id)
        .join(Edition, Edition.id == EditionItem.edition_id)
        .where(EditionItem.item_id == Item.id, is_sent())
        .exists()
    )
    return and_(Item.status.in_(PUBLISHED_ITEM_STATUSES), carried)


def editions_carrying(session: Session, item_ids: list[int]) -> dict[int, list[Edition]]:
    """For each item, the sent editions that carried it, newest first."""
    found: dict[int, list[Edition]] = defaultdict(list)
    if not item_ids:
        return found
    query = (
        select(EditionItem.item_id, Edition)
        .options(*without_documents())
        .join(Edition, Edition.id == EditionItem.edition_id)
        .where(EditionItem.item_id.in_(item_ids), is_sent())
        .order_by(*_newest_first())
    )
    for item_id, edition in session.execute(query):
        found[item_id].append(edition)
    return found


def recently_published_items(session: Session, limit: int) -> list[tuple[Item, Edition]]:
    """The items of the latest sent editions, newest edition first and in each edition's order,
    each with the first edition that carried it."""
    rows: list[tuple[Item, Edition]] = []
    seen: set[int] = set()
    for edition in sent_editions(session, limit=limit):
        for entry in entries_of(session, [edition.id])[edition.id]:
            if entry.item_id in seen or entry.item.status not in PUBLISHED_ITEM_STATUSES:
                continue
            seen.add(entry.item_id)
            rows.append((entry.item, edition))
            if len(rows) >= limit:
                return rows
    return rows


def _is_vetted_event() -> ColumnElement[bool]:
    return and_(Item.kind == "event", Item.status.in_(VETTED_EVENT_STATUSES), Item.starts_at.is_not(None))


def vetted_event(session: Session, item_id: int) -> Item | None:
    return session.scalar(select(Item).where(Item.id == item_id, _is_vetted_event()))


def upcoming_events(session: Session, now: datetime, limit: int = 1000) -> list[Item]:
    """Approved or published events that have not ended yet, soonest first."""
    not_over = func.coalesce(Item.ends_at, Item.starts_at) >= now
    query = select(Item).where(_is_vetted_event(), not_over).order_by(Item.starts_at, Item.id).limit(limit)
    return list(session.scalars(query))


def published_events(session: Session) -> list[Item]:
    """Every vetted event a sent edition carried (their "Add to calendar" links must keep working)."""
    query = select(Item).where(_is_vetted_event(), is_published_item()).order_by(Item.starts_at, Item.id)
    return list(session.scalars(query))
