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

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, update
from sqlalchemy.orm import Session

from digest.editions.arrange import file_sections, insert_in_order
from digest.editions.core import (
    SENT_STATUSES,
    EditionError,
    add_warnings,
    counts_preheader,
    default_sections,
    left_out_notes,
    new_edition,
    refresh_generated_texts,
    sent_item_ids,
)
from digest.models import Edition, EditionItem, Item, utcnow

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

    def holds_column(self, moment: ColumnElement[datetime], shift: timedelta = timedelta(0)) -> ColumnElement[bool]:
        """`holds(moment - shift)` as SQL, for a column (NULL holds nothing)."""
        after_start = moment > self.start + shift if self.start is not None else true()
        return and_(moment.is_not(None), after_start, moment <= self.end + shift)


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

    notes = _expire_lapsed(session, now)
    if existing is not None:
        return _bring_up_to_date(session, existing, now, notes)

    due = list(session.scalars(_due_items(window, now)))
    notes += _waiting_events(session, now)
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


# The rules below are queries: only the items that go into the digest are loaded.


def _live() -> Select[tuple[Item]]:
    """Approved items that no sending or sent edition carries, oldest first."""
    return select(Item).where(Item.status == "approved", Item.id.not_in(sent_item_ids())).order_by(Item.id)


def _due_items(window: Window, now: datetime) -> Select[tuple[Item]]:
    """Live items the window takes: approved or published (collected, without a publication date) inside
    it; an event only when it starts within the horizon, or when it came within the horizon in it."""
    arrived = or_(
        window.holds_column(Item.approved_at), window.holds_column(func.coalesce(Item.published_at, Item.collected_at))
    )
    dated_event = and_(Item.kind == "event", Item.starts_at.is_not(None))
    in_horizon = or_(arrived, window.holds_column(Item.starts_at, EVENT_HORIZON))
    return _live().where(
        or_(
            and_(~dated_event, arrived),
            and_(dated_event, Item.starts_at <= now + EVENT_HORIZON, in_horizon),
        )
    )


def _lapsed(now: datetime) -> ColumnElement[bool]:
    """A call whose deadline has passed, or an event that has ended (core.lapsed as SQL)."""
    return or_(
        and_(Item.kind == "call", Item.deadline.is_not(None), Item.deadline < now),
        and_(Item.kind == "event", Item.starts_at.is_not(None), func.coalesce(Item.ends_at, Item.starts_at) < now),
    )


def _expire_lapsed(session: Session, now: datetime) -> list[str]:
    """Mark calls past their deadline and events that have ended ``expired``; say which."""
    gone = session.execute(_live().with_only_columns(Item.id, Item.kind, Item.title).where(_lapsed(now))).all()
    if gone:
        ids = [row.id for row in gone]
        for start in range(0, len(ids), 500):  # bounded IN lists
            session.execute(update(Item).where(Item.id.in_(ids[start : start + 500])).values(status="expired"))
    return left_out_notes(
        ("Left out, deadline passed (marked expired)", [row for row in gone if row.kind == "call"]),
        ("Left out, already ended (marked expired)", [row for row in gone if row.kind == "event"]),
    )


def _waiting_events(session: Session, now: datetime) -> list[str]:
    waiting = session.execute(
        _live()
        .with_only_columns(Item.id, Item.title)
        .where(Item.kind == "event", Item.starts_at.is_not(None), Item.starts_at > now + EVENT_HORIZON)
    ).all()
    return left_out_notes((f"Waiting for a later digest, starting over {EVENT_HORIZON.days} days from now", waiting))


def _bring_up_to_date(session: Session, edition: Edition, now: datetime, notes: list[str]) -> Assembly:
    """The window's draft again: lapsed entries out, what arrived since its last assembly in."""
    edition.entries = [entry for entry in edition.entries if entry.item.status == "approved"]
    present = {entry.item_id for entry in edition.entries}
    since = Window(start=edition.window_end, end=now)
    query = _due_items(since, now)
    if present:
        query = query.where(Item.id.not_in(_carried(edition.id)))
    added = list(session.scalars(query))
    for title, items in default_sections(added, now):
        for item in items:
            insert_in_order(edition, item, title)
    edition.window_end = max(now, edition.window_end or now)
    refresh_generated_texts(edition)
    add_warnings(edition, [*notes, *_waiting_events(session, now)])
    message = f"digest {edition.id} already covers this window ({len(added)} new items added)"
    return Assembly(edition, created=False, message=message, added=added, notes=notes)


def _carried(edition_id: int) -> Select[tuple[int]]:
    return select(EditionItem.item_id).where(EditionItem.edition_id == edition_id)
