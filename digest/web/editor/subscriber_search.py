"""Finding subscribers for the admins' page: by part of the address or name, by status, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from digest.models import SUBSCRIBER_STATUSES, Delivery, Edition, Subscriber

PER_PAGE = 50


@dataclass(frozen=True)
class SubscriberFilters:
    text: str = ""
    status: str | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> SubscriberFilters:
        status = args.get("status")
        page = args.get("page", "1")
        return cls(
            text=" ".join((args.get("q") or "").split())[:200],
            status=status if status in SUBSCRIBER_STATUSES else None,
            page=max(1, int(page)) if page.isdigit() else 1,
        )

    def url(self, **changes: object) -> str:
        values = {"q": self.text, "status": self.status, "page": self.page} | changes
        return "?" + urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == 1)})


@dataclass
class SubscriberPage:
    filters: SubscriberFilters
    subscribers: list[Subscriber]
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return self.counts.get(self.filters.status, 0) if self.filters.status else sum(self.counts.values())

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))


def subscriber_page(session: Session, filters: SubscriberFilters) -> SubscriberPage:
    conditions = _conditions(filters.text)
    counts = dict.fromkeys(SUBSCRIBER_STATUSES, 0)
    counts.update(
        session.execute(select(Subscriber.status, func.count()).where(*conditions).group_by(Subscriber.status)).all()
    )
    query = select(Subscriber).where(*conditions)
    if filters.status:
        query = query.where(Subscriber.status == filters.status)
    query = query.order_by(Subscriber.id.desc()).limit(PER_PAGE).offset((filters.page - 1) * PER_PAGE)
    return SubscriberPage(filters, list(session.scalars(query)), counts)


def _conditions(text: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for word in text.split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(Subscriber.email.ilike(pattern, escape="\\"), Subscriber.name.ilike(pattern, escape="\\"))
        )
    return conditions


@dataclass(frozen=True)
class Received:
    edition_id: int
    title: str
    status: str
    attempts: int
    sent_at: datetime | None
    error: str | None


def deliveries_of(session: Session, subscriber_id: int, limit: int = 50) -> list[Received]:
    """What was sent (or tried) to one subscriber, newest first."""
    rows = session.execute(
        select(Edition.id, Edition.title, Delivery.status, Delivery.attempts, Delivery.sent_at, Delivery.last_error)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    return [Received(*row) for row in rows]
