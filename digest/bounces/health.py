"""The list's health: bounce and complaint rates of the last 30 days, as mailbox providers judge a sender.

Gmail and Yahoo throttle a sender whose complaints pass 0.3%; we warn well before, at 0.1%, and at 2% of
bounces. Only messages that went out count: those the server took (sent, some bouncing later) and those
it refused at once (bounced).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from digest.models import Delivery, utcnow

WINDOW = timedelta(days=30)
BOUNCE_WARNING = 0.02
COMPLAINT_WARNING = 0.001


@dataclass(frozen=True)
class Health:
    sent: int  # messages that went out in the window
    bounced: int
    complained: int

    @property
    def bounce_rate(self) -> float:
        return self.bounced / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complained / self.sent if self.sent else 0.0

    @property
    def warnings(self) -> list[str]:
        found = []
        if self.bounce_rate > BOUNCE_WARNING:
            found.append(f"bounces above {BOUNCE_WARNING:.0%}: clean the list (old or bought addresses?)")
        if self.complaint_rate > COMPLAINT_WARNING:
            found.append(f"complaints above {COMPLAINT_WARNING:.1%}: mailbox providers throttle from 0.3%")
        return found

    @property
    def ok(self) -> bool:
        return not self.warnings

    @property
    def line(self) -> str:
        if not self.sent:
            return "No message went out in the last 30 days."
        return (
            f"Last 30 days: {self.sent:,} sent, {self.bounce_rate:.2%} bounced ({self.bounced:,}), "
            f"{self.complaint_rate:.2%} complaints ({self.complained:,})"
        )


def list_health(session: Session, now: datetime | None = None) -> Health:
    since = (now or utcnow()) - WINDOW
    went_out = or_(
        and_(Delivery.status == "sent", Delivery.sent_at >= since),
        and_(Delivery.status == "bounced", Delivery.claimed_at >= since),  # refused at once: never "sent_at"
    )
    refused = Delivery.status == "bounced"
    sent, bounced, complained = session.execute(
        select(
            func.count(),
            func.count().filter(or_(refused, Delivery.feedback == "hard")),
            func.count().filter(Delivery.feedback == "complaint"),
        ).where(went_out)
    ).one()
    return Health(sent, bounced, complained)
