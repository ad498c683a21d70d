"""The weekly digest: its window, which items it takes, and why assembling twice makes one digest.

The window runs from the end of the window of the last digest actually sent (sending or sent) to
the assembly time; before the first digest it has no start. An approved item not carried by any
sent edition belongs to the window when it was approved or published (collected, without a
publication date) inside it. Then:

- an open call whose deadline has passed is left out and marked ``expired``; a call closing within
  14 days goes into "Closing soon", above the other open calls;
- an event goes in when it starts within the next 60 days (or is still running), ordered by start;
  one further ahead waits, and joins the digest of the window in which it comes within 60 days;
  an event that has ended is left out and marked ``expired``.

The window's start is the digest's idempotency key (``Edition.window_key``): until a digest is sent,
every assembly finds the same draft and brings it up to date (new items added in place, lapsed calls
dropped, editors' changes kept) instead of making another. A cancelled draft gives its key up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.editions.arrange import file_sections, insert_in_order
from digest.editions.core import (
    SENT_STATUSES,
    EditionError,
    add_warnings,
    counts_preheader,
    default_sections,
    lapsed,
    left_out_notes,
    new_edition,
    unsent_approved_items,
)
from digest.models import Edition, Item, utcnow

EVENT_HORIZON = timedelta(days=60)


class EmptyWindow(EditionError):
    """Nothing arrived in the window: no digest is made."""


@dataclass(frozen=True)
class Window:
    start: datetime | None  # the end of the last sent digest's window; None before the first digest
    end: datetime

    @property
    def key(self) -> str:
        return f"digest:{self.start.isoformat() if self.start else 'first'}"

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and (self.start is None or moment > self.start) and moment <= self.end


@dataclass
class Assembly:
    edition: Edition | None  # None: nothing was due, and ``message`` says so
    created: bool  # False: this window's digest existed already (a draft is brought up to date)
    message: str
    added: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left out and why, for the editor

    def require(self) -> Edition:
        if self.edition is None:
            raise EmptyWindow(self.message)
        return self.edition


def digest_window(session: Session, now: datetime) -> Window:
    last_end = session.scalar(
        select(func.max(func.coalesce(Edition.window_end, Edition.created_at))).where(
            Edition.type == "digest", Edition.status.in_(SENT_STATUSES)
        )
    )
    return Window(start=last_end, end=now)


def assemble_digest(session: Session, timezone: str, now: datetime | None = None, title: str | None = None) -> Assembly:
    """Make this window's digest, or bring its draft up to date. When nothing is due no edition is
    made (``Assembly.edition`` is None); calls and events that lapsed are marked expired either way."""
    now = now or utcnow()
    window = digest_window(session, now)
    existing = session.scalar(select(Edition).where(Edition.window_key == window.key))
    if existing is not None and existing.status == "cancelled":
        existing.window_key = None  # a cancelled draft gives its window up
        session.flush()  # before the new digest takes the key (it is unique)
        existing = None
    if existing is not None and existing.status != "draft":  # scheduled: the editors have committed to it
        return Assembly(existing, created=False, message=f"digest {existing.id} is already {existing.status}")

    candidates = unsent_approved_items(session)
    notes = _expire_lapsed(candidates, now)
    live = [item for item in candidates if item.status == "approved"]
    if existing is not None:
        return _bring_up_to_date(existing, live, now, notes)

    due = [item for item in live if _due(item, window, now)]
    notes += _waiting_events(live, now)
    if not due:
        return Assembly(None, created=False, message=_empty_message(window), notes=notes)
    edition = new_edition(session, "digest", timezone, now, title)
    edition.window_key, edition.window_start, edition.window_end = window.key, window.start, window.end
    file_sections(edition, default_sections(due, now))
    edition.preheader = counts_preheader(due)
    edition.warnings = list(notes)
    session.flush()
    message = f"assembled digest {edition.id}"
    return Assembly(edition, created=True, message=message, added=due, notes=notes)


def _empty_message(window: Window) -> str:
    since = f" since {window.start:%Y-%m-%d %H:%M} UTC (the end of the last digest sent)" if window.start else ""
    return (
        f"no digest: the window is empty, no approved item arrived{since}; "
        "approve items with `digest queue approve ID…`, then assemble again"
    )


def _due(item: Item, window: Window, now: datetime) -> bool:
    arrived = window.holds(item.approved_at) or window.holds(item.published_at or item.collected_at)
    if item.kind != "event" or item.starts_at is None:
        return arrived
    if item.starts_at > now + EVENT_HORIZON:
        return False
    return arrived or window.holds(item.starts_at - EVENT_HORIZON)  # came within the horizon just now


def _expire_lapsed(items: Sequence[Item], now: datetime) -> list[str]:
    """Mark calls past their deadline and events that have ended ``expired``; say which."""
    gone = [item for item in items if lapsed(item, now)]
    for item in gone:
        item.status = "expired"
    return left_out_notes(
        ("Left out, deadline passed (marked expired)", [item for item in gone if item.kind == "call"]),
        ("Left out, already ended (marked expired)", [item for item in gone if item.kind == "event"]),
    )


def _waiting_events(items: Sequence[Item], now: datetime) -> list[str]:
    waiting = [
        item
        for item in items
        if item.kind == "event" and item.starts_at is not None and item.starts_at > now + EVENT_HORIZON
    ]
    return left_out_notes((f"Waiting for a later digest, starting over {EVENT_HORIZON.days} days from now", waiting))


def _bring_up_to_date(edition: Edition, live: list[Item], now: datetime, notes: list[str]) -> Assembly:
    """The window's draft again: lapsed entries out, what arrived since its last assembly in."""
    edition.entries = [entry for entry in edition.entries if entry.item.status == "approved"]
    present = {entry.item_id for entry in edition.entries}
    since = Window(start=edition.window_end, end=now)
    added = [item for item in live if item.id not in present and _due(item, since, now)]
    for title, items in default_sections(added, now):
        for item in items:
            insert_in_order(edition, item, title)
    edition.window_end = max(now, edition.window_end or now)
    add_warnings(edition, [*notes, *_waiting_events(live, now)])
    message = f"digest {edition.id} already covers this window ({len(added)} new items added)"
    return Assembly(edition, created=False, message=message, added=added, notes=notes)
