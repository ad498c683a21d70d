"""How far an edition's delivery has come (the live progress bar) and its failures. (How many subscribers
it would go to before sending is digest.delivery.recipients.recipient_count, the rule sending applies.)"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.editions.core import delivery_counts
from digest.models import DELIVERY_STATUSES, Delivery, Edition, Subscriber

FAILURES_SHOWN = 50


@dataclass(frozen=True)
class Failure:
    email: str
    status: str
    attempts: int
    error: str | None


@dataclass(frozen=True)
class Progress:
    status: str
    queued: int  # waiting, or being sent right now
    sent: int
    failed: int
    bounced: int  # refused by the server, or a hard bounce reported later
    complained: int  # sent, and its reader complained (not part of the total)
    total: int
    failures: list[Failure]

    @property
    def done_percent(self) -> int:
        return round(100 * (self.sent + self.failed + self.bounced) / self.total) if self.total else 100

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"done_percent": self.done_percent}


def progress(session: Session, edition: Edition) -> Progress:
    counts = delivery_counts(session, [edition.id])[edition.id]
    return Progress(
        status=edition.status,
        queued=counts["queued"] + counts["sending"],
        sent=counts["sent"],
        failed=counts["failed"],
        bounced=counts["bounced"],
        complained=counts["complained"],
        total=sum(number for status, number in counts.items() if status in DELIVERY_STATUSES),
        failures=failures(session, edition.id),
    )


def failures(session: Session, edition_id: int, limit: int = FAILURES_SHOWN) -> list[Failure]:
    rows = session.execute(
        select(Subscriber.email, Delivery.status, Delivery.attempts, Delivery.last_error)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.edition_id == edition_id, Delivery.status.in_(("failed", "bounced")))
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [Failure(*row) for row in rows]
