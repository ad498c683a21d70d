"""A forgotten person leaves no address in the reports kept for a person to read (``raw``, ``reason``)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from digest import audit
from digest.models import DeliveryReport


def scrub_reports(session: Session, address: str, also: tuple[str, ...] = ()) -> int:
    """Replace the address (and the `also` words) in the kept reports that quote it; return how many."""
    needle = address.lower()
    quoting = or_(
        func.lower(DeliveryReport.raw).contains(needle, autoescape=True),
        func.lower(DeliveryReport.reason).contains(needle, autoescape=True),
    )
    changed = 0
    for report in session.scalars(select(DeliveryReport).where(quoting)):
        report.raw = audit.scrub_text(report.raw, address, also)
        report.reason = audit.scrub_text(report.reason, address, also)
        changed += 1
    return changed
