"""What one report does: find its delivery, record it there and in the audit trail, and change the
subscriber when it must.

A report is matched to its delivery by the VERP token of the address it was sent to, else the
original message's Message-ID, else its recipient (that subscriber's latest delivery). Then:

- a hard bounce (5.x.x) makes an active or pending subscriber ``bounced``;
- a soft bounce (4.x.x) is counted on its delivery; when the subscriber's last ``bounces.soft_limit``
  deliveries all bounced softly, the subscriber is ``bounced``;
- a complaint makes the subscriber ``complained`` (never mailed again, see digest.subscribers);
- a report that is not understood, or matches nobody, is kept (with its text) for a person to read.

An import never raises these statuses back to active (digest.subscribers.roster.SUPPRESSED).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest import audit
from digest.bounces.reports import Report
from digest.delivery.verp import ReturnPath
from digest.models import Delivery, DeliveryReport, Subscriber, utcnow

STRENGTH = {None: 0, "soft": 1, "hard": 2, "complaint": 3}  # a delivery's feedback only ever gets stronger
MAX_RAW_CHARACTERS = 64 * 1024  # of a report not understood, kept for a person


@dataclass(frozen=True)
class Outcome:
    """What became of one report (one object of `digest bounces process --json`)."""

    kind: str  # hard | soft | complaint | unknown
    subscriber: str | None  # the subscriber's address
    delivery: int | None
    status: str | None  # the report's status: 5.1.1, 4.2.2, abuse
    action: str  # what was done: bounced, counted, complained, recorded, kept, duplicate
    report: int | None = None  # the delivery_reports row

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subscriber": self.subscriber,
            "delivery": self.delivery,
            "status": self.status,
            "action": self.action,
            "report": self.report,
        }


@dataclass(frozen=True)
class Context:
    """What recording needs besides the session: who acts, where reports came from, the VERP decoder."""

    actor: audit.Actor
    origin: str  # mailbox | webhook
    return_path: ReturnPath
    soft_limit: int


def record_report(
    session: Session, context: Context, report: Report, key: str, raw: str | None = None, per_delivery: bool = False
) -> Outcome:
    """Record one report in the caller's transaction. ``key`` names it so that the same report recorded
    twice changes nothing (``per_delivery``: the key is completed with the delivery it matched)."""
    delivery, subscriber = _match(session, context.return_path, report)
    if per_delivery:
        key = f"{key}:{delivery.id if delivery else '-'}"
    known = session.scalar(select(DeliveryReport).where(DeliveryReport.report_key == key))
    if known is not None:
        email = subscriber.email if subscriber else None
        return Outcome(known.kind, email, known.delivery_id, known.status, "duplicate", known.id)
    now = utcnow()
    if report.kind == "unknown" or subscriber is None:
        return _keep(session, context, report, key, raw, delivery, subscriber, now)
    row = _report_row(context, report, key, delivery, subscriber, now)
    session.add(row)
    if delivery is not None and STRENGTH[report.kind] > STRENGTH[delivery.feedback]:
        delivery.feedback, delivery.feedback_at = report.kind, now
    session.flush()
    before = subscriber.status
    action = _apply(session, context, report.kind, subscriber)
    detail = {
        "delivery": delivery.id if delivery else None,
        "edition": delivery.edition_id if delivery else None,
        "status": report.status,
        "origin": context.origin,
        "report": row.id,
    }
    if subscriber.status != before:
        detail["subscriber_status"] = f"{before} → {subscriber.status}"
    audit.record(session, context.actor, f"bounce.{report.kind}", "subscriber", subscriber.id, detail)
    return Outcome(report.kind, subscriber.email, delivery.id if delivery else None, report.status, action, row.id)


def _apply(session: Session, context: Context, kind: str, subscriber: Subscriber) -> str:
    if kind == "complaint":
        if subscriber.status == "complained":
            return "recorded"
        subscriber.status = "complained"
        return "complained"
    if subscriber.status not in ("active", "pending"):
        return "recorded"  # already unsubscribed, bounced or complained: stays so
    if kind == "hard" or _soft_limit_reached(session, subscriber.id, context.soft_limit):
        subscriber.status = "bounced"
        return "bounced"
    return "counted"


def _soft_limit_reached(session: Session, subscriber_id: int, limit: int) -> bool:
    """Whether the subscriber's last `limit` deliveries that went out all bounced softly."""
    latest = list(
        session.scalars(
            select(Delivery.feedback)
            .where(Delivery.subscriber_id == subscriber_id, Delivery.status == "sent")
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
    )
    return len(latest) == limit and all(feedback == "soft" for feedback in latest)


def _keep(
    session: Session,
    context: Context,
    report: Report,
    key: str,
    raw: str | None,
    delivery: Delivery | None,
    subscriber: Subscriber | None,
    now: datetime,
) -> Outcome:
    """A report not understood, or about nobody we know: kept whole for a person (`bounces list-unknown`)."""
    reason = report.reason if report.kind == "unknown" else f"a {report.kind} report that matches no subscriber"
    row = DeliveryReport(
        report_key=key,
        origin=context.origin,
        kind="unknown",
        status=report.status,
        action=report.action,
        reason=(reason or "")[:1000] or None,
        delivery_id=delivery.id if delivery else None,
        subscriber_id=subscriber.id if subscriber else None,
        received_at=now,
        raw=raw[:MAX_RAW_CHARACTERS] if raw else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        context.actor,
        "bounce.unknown",
        "delivery_report",
        row.id,
        {"origin": context.origin, "reason": reason},
    )
    return Outcome("unknown", None, row.delivery_id, report.status, "kept", row.id)


def _report_row(
    context: Context, report: Report, key: str, delivery: Delivery | None, subscriber: Subscriber, now: datetime
) -> DeliveryReport:
    return DeliveryReport(
        report_key=key,
        origin=context.origin,
        kind=report.kind,
        status=report.status,
        action=(report.action or "")[:32] or None,
        reason=(report.reason or "")[:1000] or None,
        delivery_id=delivery.id if delivery else None,
        subscriber_id=subscriber.id,
        received_at=now,
    )


# --------------------------------------------------------------------------- matching


def _match(session: Session, return_path: ReturnPath, report: Report) -> tuple[Delivery | None, Subscriber | None]:
    delivery = _by_token(session, return_path, report.addresses) or _by_message_id(session, report.message_id)
    if delivery is not None:
        return delivery, session.get(Subscriber, delivery.subscriber_id)
    if not report.recipient:
        return None, None
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == report.recipient.lower()))
    if subscriber is None:
        return None, None
    latest = session.scalar(
        select(Delivery)
        .where(Delivery.subscriber_id == subscriber.id, Delivery.status.in_(("sent", "bounced")))
        .order_by(Delivery.id.desc())
        .limit(1)
    )
    return latest, subscriber


def _by_token(session: Session, return_path: ReturnPath, addresses: tuple[str, ...]) -> Delivery | None:
    for address in addresses:
        delivery_id = return_path.delivery_in(address)
        if delivery_id is not None:
            found = session.get(Delivery, delivery_id)
            if found is not None:
                return found
    return None


def _by_message_id(session: Session, message_id: str | None) -> Delivery | None:
    if not message_id:
        return None
    return session.scalar(select(Delivery).where(Delivery.message_id == message_id).limit(1))
