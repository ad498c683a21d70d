"""An edition's life: created as a draft, scheduled, cancelled (sending is digest.delivery's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from digest.editions.assembly import assemble_digest
from digest.editions.core import EditionError, get_edition
from digest.editions.newsletter import create_newsletter
from digest.models import EDITION_TYPES, Edition, utcnow


def create_edition(
    session: Session, edition_type: str, timezone: str, title: str | None = None, now: datetime | None = None
) -> Edition:
    """A draft digest (the weekly assembly and its window rules) or newsletter (every approved item not sent yet)."""
    if edition_type == "digest":
        return assemble_digest(session, timezone, now=now, title=title).require()
    if edition_type == "newsletter":
        return create_newsletter(session, timezone, title=title, now=now)
    raise EditionError(f"unknown edition type {edition_type!r}; use one of {', '.join(EDITION_TYPES)}")

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
