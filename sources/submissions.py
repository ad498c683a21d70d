"""Submissions: an item sent by a cluster organisation (form or API) enters the queue like a collected one.

What arrives here is already validated (digest/web/submission_form.py); this module does not care
how. One transaction stores the Submission (who sent what, from where) and, unless the queue already
knows the story, a `pending` Item marked as submitted. Duplicates are found by the collectors' rules
(sources/dedup.py: the same canonical URL, or a near-identical title of the same kind, rejected and
published items included): a duplicate is linked to the item it repeats, never lost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from digest.config import CollectConfig
from digest.db import write_transaction
from digest.models import Item, Submission, utcnow
from digest.runtime import Runtime
from sources import dedup
from sources.entry import Candidate, item_fields

NEW, DUPLICATE = "pending", "duplicate"  # Submission.status: a new item in the queue, or linked to a known one
_LOCK_KEY = 0x5375626D  # PostgreSQL advisory lock: one submission stored at a time, so twins are caught


@dataclass(frozen=True)
class SubmittedItem:
    """A validated submission: plain-text fields, sanitised summary HTML, canonical URLs, UTC times."""

    kind: str
    title: str
    summary_html: str
    organisation: str
    contact_name: str
    contact_email: str
    url: str | None = None
    image_url: str | None = None
    country: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None
    location: str | None = None
    deadline: datetime | None = None
    all_day: bool = False  # dates without times: an all-day event, or a deadline that is a whole day

    def payload(self) -> dict[str, Any]:
        """What was sent, as JSON (the contact lives in the Submission's own columns)."""
        values = asdict(self)
        for key in ("organisation", "contact_name", "contact_email"):
            values.pop(key)
        return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in values.items()}


def submit(
    runtime: Runtime, submitted: SubmittedItem, client_address: str | None = None, *, confirm: bool = True
) -> Submission:
    """Store the submission (and its item) in one transaction; the Submission comes back with its item loaded.
    `confirm`: its confirmation email is due (the status pass sends it, after this commits)."""
    # The collect section itself, not collector_settings(): that also works out a User-Agent, which reads
    # the package's metadata from disk (a tenth of a submission's time) for a value nothing here uses.
    title_days = runtime.config.settings.collect.dedup_title_days
    with write_transaction(runtime.sessions) as session:
        submission = store_submission(session, submitted, client_address, title_days=title_days, confirm=confirm)
        session.flush()
        _ = submission.item  # loaded before the session closes
    return submission


def store_submission(
    session: Session,
    submitted: SubmittedItem,
    client_address: str | None = None,
    *,
    now: datetime | None = None,
    title_days: int = CollectConfig().dedup_title_days,
    confirm: bool = True,
) -> Submission:
    """Add the Submission, then its pending Item, or link it to the item it duplicates.

    With `confirm`, nothing is told yet (`notified_status` None): the confirmation is due, and the status
    pass (digest.submissions.notices, run by the worker) sends it; the request never sends mail itself.
    Without, the submitter counts as told of the item's status as it stands."""
    now = now or utcnow()
    submission = Submission(
        organisation=submitted.organisation,
        contact_name=submitted.contact_name,
        contact_email=submitted.contact_email,
        kind=submitted.kind,
        payload=submitted.payload(),
        client_address=client_address,
        created_at=now,
    )
    session.add(submission)
    session.flush()  # a write first: on SQLite the transaction now holds the write lock while it looks
    _serialise(session)
    candidate = as_candidate(submitted, now)
    known = dedup.find_duplicate(session, candidate, since=now - timedelta(days=title_days))
    if known is not None:
        submission.status, submission.item = DUPLICATE, known
        submission.notified_status = None if confirm else known.status
        return submission
    item = _new_item(submitted, candidate, now)
    session.add(item)
    submission.status, submission.item, submission.notified_status = NEW, item, None if confirm else item.status
    return submission


def as_candidate(submitted: SubmittedItem, now: datetime) -> Candidate:
    """The submission in the collectors' own record, with their hashes and keys."""
    candidate = Candidate(
        kind=submitted.kind,
        title=submitted.title,
        summary=submitted.summary_html,
        url=submitted.url,
        guid=None,
        image_url=submitted.image_url,
        organisation=submitted.organisation,
        country=submitted.country,
        published_at=now,
        starts_at=submitted.starts_at,
        ends_at=submitted.ends_at,
        location=submitted.location,
        timezone=submitted.timezone,
        deadline=submitted.deadline,
        all_day=submitted.all_day,
    )
    candidate.content_hash = dedup.content_hash(candidate)
    candidate.title_key = dedup.title_key(candidate.title)
    # As a source keys its entries (dedup.assign_dedup_keys), with "submission" in the source's place.
    identity = f"link:{candidate.url}" if dedup.is_specific_url(candidate.url) else f"hash:{candidate.content_hash}"
    candidate.dedup_key = dedup.sha256(f"submission\x1f{identity}")
    return candidate


def _new_item(submitted: SubmittedItem, candidate: Candidate, now: datetime) -> Item:
    """The item as sources/collector.py stores a collected entry, marked as submitted."""
    fields = item_fields(candidate, origin="submission", source_id=None, collected_at=now)
    fields["title_key"] = candidate.title_key
    fields["timezone"] = candidate.timezone if submitted.kind in ("event", "call") else None
    return Item(**fields)


def _serialise(session: Session) -> None:
    # SQLite already serialises writers (the flush above); PostgreSQL needs a lock for two identical
    # submissions arriving together not to both find nothing and both become items.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


# --------------------------------------------------------------------------- for the editors' pages


def submissions_for_item(session: Session, item_id: int) -> list[Submission]:
    """Every submission linked to the item: the one that created it first, then its duplicates."""
    query = select(Submission).where(Submission.item_id == item_id).order_by(Submission.id)
    return list(session.scalars(query))


def submission_for_item(session: Session, item_id: int) -> Submission | None:
    """The submission behind a submitted item (the first one linked to it), or None."""
    found = submissions_for_item(session, item_id)
    return next((s for s in found if s.status != DUPLICATE), found[0] if found else None)
