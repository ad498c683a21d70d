"""The editorial queue as the editors' page asks for it: filtered, sorted per kind, one page at a time.

Built to stay fast with tens of thousands of items: one query for the page (LIMIT/OFFSET, the
source loaded with it), one GROUP BY for the counts per status (which gives the total too), and
one for the submissions behind the page's items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, joinedload

from digest.editions.core import CLOSING_SOON_WITHIN
from digest.items.queue import SORTS, queue_order
from digest.models import ITEM_KINDS, ITEM_STATUSES, Item, Source, Submission

PER_PAGE = 50
MAX_TEXT = 200


@dataclass(frozen=True)
class QueueFilters:
    status: str | None = "pending"  # None: every status
    kind: str | None = None
    origin: str | None = None  # "submission", or a source id as text
    country: str | None = None
    text: str = ""
    sort: str = "auto"
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        status = args.get("status", "pending")
        kind = args.get("kind") or None
        origin = args.get("origin") or None
        page = args.get("page", "1")
        return cls(
            status=status if status in ITEM_STATUSES else None if status == "all" else "pending",
            kind=kind if kind in ITEM_KINDS else None,
            origin=origin if origin == "submission" or (origin or "").isdigit() else None,
            country=(args.get("country") or "").strip()[:100] or None,
            text=" ".join((args.get("q") or "").split())[:MAX_TEXT],
            sort=args.get("sort") if args.get("sort") in SORTS else "auto",
            page=max(1, int(page)) if page.isdigit() else 1,
        )

    def args(self, **changes: object) -> dict[str, str]:
        """The query-string arguments of these filters (with changes), defaults left out."""
        chosen = replace(self, **changes) if changes else self
        values = {
            "status": chosen.status or "all",
            "kind": chosen.kind,
            "origin": chosen.origin,
            "country": chosen.country,
            "q": chosen.text,
            "sort": None if chosen.sort == "auto" else chosen.sort,
            "page": None if chosen.page == 1 else str(chosen.page),
        }
        return {key: value for key, value in values.items() if value}

    def url(self, **changes: object) -> str:
        return "?" + urlencode(self.args(**changes))


@dataclass
class QueuePage:
    filters: QueueFilters
    items: list[Item]
    counts: dict[str, int]  # per status, with the other filters applied
    submissions: dict[int, Submission] = field(default_factory=dict)  # item id -> its submission

    @property
    def total(self) -> int:
        if self.filters.status is None:
            return sum(self.counts.values())
        return self.counts.get(self.filters.status, 0)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))


def queue_page(session: Session, filters: QueueFilters, per_page: int = PER_PAGE) -> QueuePage:
    conditions = _conditions(filters)
    counts = dict.fromkeys(ITEM_STATUSES, 0)
    counts.update(session.execute(select(Item.status, func.count()).where(*conditions).group_by(Item.status)).all())
    query = select(Item).options(joinedload(Item.source)).where(*conditions)
    if filters.status:
        query = query.where(Item.status == filters.status)
    query = query.order_by(*queue_order(filters.kind, filters.sort))
    query = query.limit(per_page).offset((filters.page - 1) * per_page)
    items = list(session.scalars(query))
    return QueuePage(filters, items, counts, submissions_of(session, items))


def submissions_of(session: Session, items: list[Item]) -> dict[int, Submission]:
    ids = [item.id for item in items if item.origin == "submission"]
    if not ids:
        return {}
    found = session.scalars(select(Submission).where(Submission.item_id.in_(ids)))
    return {submission.item_id: submission for submission in found if submission.item_id is not None}


def _conditions(filters: QueueFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.kind:
        conditions.append(Item.kind == filters.kind)
    if filters.origin == "submission":
        conditions.append(Item.origin == "submission")
    elif filters.origin:
        conditions.append(Item.source_id == int(filters.origin))
    if filters.country:
        conditions.append(Item.country == filters.country)
    for word in filters.text.split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                Item.title.ilike(pattern, escape="\\"),
                Item.organisation.ilike(pattern, escape="\\"),
                Item.summary.ilike(pattern, escape="\\"),
            )
        )
    return conditions


def closing_soon(item: Item, now: datetime) -> bool:
    """An open call whose deadline is within the "Closing soon" span of the digest."""
    return item.kind == "call" and item.deadline is not None and now <= item.deadline <= now + CLOSING_SOON_WITHIN


def deadline_passed(item: Item, now: datetime) -> bool:
    return item.kind == "call" and item.deadline is not None and item.deadline < now


def filter_choices(session: Session) -> dict[str, object]:
    """What the queue's filters offer, under the names the page knows them by: the statuses, kinds and sorts,
    the sources (id, name) and the countries items name."""
    sources = [(str(id_), name) for id_, name in session.execute(select(Source.id, Source.name).order_by(Source.name))]
    countries = list(
        session.scalars(select(Item.country).where(Item.country.is_not(None)).distinct().order_by(Item.country))
    )
    return {"statuses": ITEM_STATUSES, "kinds": ITEM_KINDS, "sorts": SORTS, "sources": sources, "countries": countries}
