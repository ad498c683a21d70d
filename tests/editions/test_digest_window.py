"""The weekly digest's window rules: where the window starts and ends, which items it takes, the
calls and events rules, idempotency, a week with no items, a missed week, and what happens between
assembly and send."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.audit import SYSTEM
from digest.editions.arrange import move_item
from digest.editions.assembly import EVENT_HORIZON, assemble_digest, digest_window
from digest.editions.core import CLOSING_SOON, EVENTS, NEWS, OPEN_CALLS, EditionError
from digest.editions.lifecycle import cancel
from digest.editions.newsletter import create_newsletter
from digest.items.queue import decide
from digest.models import Edition, Item, utcnow
from digest.runtime import Runtime
from tests.edition_helpers import DAY, MONDAY, WEEK, item_at, send
from tests.factories import make_item

TZ = "Europe/Brussels"


def assemble(session: Session, now: datetime = MONDAY):
    return assemble_digest(session, TZ, now=now)


def ids(items: list[Item]) -> list[int]:
    return [item.id for item in items]


def carried(edition: Edition) -> list[int]:
    return [entry.item_id for entry in edition.entries]


def sections(edition: Edition) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entry in edition.entries:
        found.setdefault(entry.section, []).append(entry.item.title)
    return found


def sent_digest(session: Session, runtime: Runtime, now: datetime) -> Edition:
    """Assemble and send a digest at ``now`` (there must be something due)."""
    edition = assemble(session, now).require()
    send(session, runtime.config, edition, now)
    return edition


def test_the_first_digest_takes_every_approved_item_and_has_no_window_start(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        old = item_at(session, "Approved a long time ago", MONDAY - 20 * WEEK)
        recent = item_at(session, "Approved yesterday", MONDAY - DAY)
        make_item(session, "Still pending", status="pending", published_at=MONDAY - DAY)
        make_item(session, "Rejected", status="rejected", published_at=MONDAY - DAY)
        result = assemble(session)
        edition = result.require()
        assert result.created
        assert sorted(carried(edition)) == sorted(ids([old, recent]))
        assert (edition.type, edition.status, edition.window_start, edition.window_end) == (
            "digest",
            "draft",
            None,
            MONDAY,
        )
        assert edition.window_key == "digest:first"
        assert edition.preheader == "This week: 2 news items"


def test_the_window_starts_where_the_last_sent_digest_ended_not_a_week_ago(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_at(session, "In the first digest", MONDAY - 3 * WEEK - DAY)
        first = sent_digest(session, runtime, MONDAY - 3 * WEEK)
        before = item_at(session, "Published before the first digest, never sent", MONDAY - 3 * WEEK - 2 * DAY)
        twenty_days_ago = item_at(session, "Three weeks old, after the first digest", MONDAY - 20 * DAY)
        yesterday = item_at(session, "Yesterday", MONDAY - DAY)
        window = digest_window(session, MONDAY)
        assert (window.start, window.end) == (first.window_end, MONDAY)
        edition = assemble(session).require()
        assert sorted(carried(edition)) == sorted(ids([twenty_days_ago, yesterday]))
        assert before.id not in carried(edition)
        assert edition.window_start == MONDAY - 3 * WEEK


def test_an_item_approved_late_belongs_to_the_window_of_its_approval(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        now = utcnow()  # an editor's approval is stamped with the real clock: this test lives on it
        item_at(session, "Sent last week", now - WEEK - DAY)
        sent_digest(session, runtime, now - WEEK)
        late = make_item(
            session,
            "Published before last week's digest, approved after it",
            status="pending",
            published_at=now - WEEK - 2 * DAY,
            collected_at=now - WEEK - 2 * DAY,
        )
        decide(session, SYSTEM, [late.id], "approved")
        assert late.approved_at is not None and late.approved_at >= now
        edition = assemble_digest(session, TZ, now=late.approved_at + timedelta(minutes=1)).require()
        assert carried(edition) == [late.id]


def test_an_item_already_sent_is_never_taken_again(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        shared = item_at(session, "Sent in a newsletter", MONDAY - DAY)
        other = item_at(session, "Not sent yet", MONDAY - DAY)
        newsletter = create_newsletter(session, TZ, sections=[("Spotlight", [shared.id])], now=MONDAY - DAY)
        send(session, runtime.config, newsletter, MONDAY - DAY)
        assert shared.status == "published"
        edition = assemble(session).require()
        assert carried(edition) == [other.id]


def test_a_week_with_no_items_makes_no_digest_and_says_so(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_at(session, "Last week's news", MONDAY - WEEK - DAY)
        sent_digest(session, runtime, MONDAY - WEEK)
        result = assemble(session)
        assert result.edition is None and not result.created
        assert "window is empty" in result.message and "the end of the last digest sent" in result.message
        with pytest.raises(EditionError, match="window is empty"):
            result.require()
        assert session.scalar(select(Edition).where(Edition.status == "draft")) is None


def test_assembling_twice_makes_one_digest(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_at(session, "Monday news", MONDAY - DAY)
        first = assemble(session)
        again = assemble(session)  # the same moment: a retried job
        later = assemble(session, MONDAY + timedelta(minutes=10))  # or a second run a little later
        assert first.created and not again.created and not later.created
        assert first.edition is again.edition is later.edition
        assert again.added == [] and "already covers this window" in again.message
        assert session.scalar(select(Edition.id).where(Edition.id != first.require().id)) is None


def test_a_draft_is_brought_up_to_date_and_keeps_the_editors_order(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        a = item_at(session, "Older news", MONDAY - 3 * DAY)
        b = item_at(session, "Newer news", MONDAY - DAY)
        edition = assemble(session).require()
        assert carried(edition) == [b.id, a.id]  # newest first
        move_item(session, SYSTEM, edition.id, a.id, position=0)  # the editor prefers the older one first
        c = item_at(session, "Approved after the assembly", MONDAY + timedelta(hours=1))
        call = item_at(
            session,
            "A call approved after the assembly",
            MONDAY + timedelta(hours=1),
            kind="call",
            deadline=MONDAY + WEEK * 5,
        )
        result = assemble(session, MONDAY + timedelta(hours=2))
        assert not result.created and sorted(ids(result.added)) == sorted([c.id, call.id])
        assert sections(edition) == {
            NEWS: ["Approved after the assembly", "Older news", "Newer news"],  # the newest first, as assembled
            OPEN_CALLS: ["A call approved after the assembly"],
        }
        assert edition.window_end == MONDAY + timedelta(hours=2)
        assert [entry.position for entry in edition.entries] == [0, 1, 2, 3]


def test_a_missed_week_is_covered_by_the_next_digest(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_at(session, "Two weeks ago", MONDAY - 2 * WEEK - DAY)
        last_sent = sent_digest(session, runtime, MONDAY - 2 * WEEK)
        week_one = item_at(session, "Approved in the week nobody sent", MONDAY - WEEK - DAY)
        forgotten = assemble(session, MONDAY - WEEK).require()  # assembled, never sent
        week_two = item_at(session, "Approved this week", MONDAY - DAY)
        result = assemble(session)
        edition = result.require()
        assert edition is forgotten  # the same window (it starts at the last digest sent): one digest
        assert sorted(carried(edition)) == sorted([week_one.id, week_two.id])
        assert (edition.window_start, edition.window_end) == (last_sent.window_end, MONDAY)


def test_a_missed_week_without_any_draft(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_at(session, "Two weeks ago", MONDAY - 2 * WEEK - DAY)
        sent_digest(session, runtime, MONDAY - 2 * WEEK)
        week_one = item_at(session, "Week one", MONDAY - WEEK - DAY)
        week_two = item_at(session, "Week two", MONDAY - DAY)
        edition = assemble(session).require()
        assert sorted(carried(edition)) == sorted([week_one.id, week_two.id])
        assert edition.window_start == MONDAY - 2 * WEEK


def test_a_cancelled_digest_gives_its_window_up(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        news = item_at(session, "Monday news", MONDAY - DAY)
        first = assemble(session).require()
        cancel(session, SYSTEM, first.id)
        second = assemble(session, MONDAY + timedelta(hours=1))
        assert second.created and second.require() is not first
        assert carried(second.require()) == [news.id]
        assert first.window_key is None and second.require().window_key == "digest:first"


def test_a_scheduled_digest_is_left_as_the_editors_scheduled_it(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_at(session, "Monday news", MONDAY - DAY)
        edition = assemble(session).require()
        edition.status = "scheduled"
        item_at(session, "Approved after scheduling", MONDAY + timedelta(hours=1))
        result = assemble(session, MONDAY + timedelta(hours=2))
        assert result.edition is edition and not result.created and len(edition.entries) == 1


def test_calls_past_their_deadline_are_expired_and_closing_soon_comes_first(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        closed = item_at(session, "Closed on Friday", MONDAY - DAY, kind="call", deadline=MONDAY - 3 * DAY)
        later = item_at(session, "Closes in 30 days", MONDAY - DAY, kind="call", deadline=MONDAY + 30 * DAY)
        soon = item_at(session, "Closes in 10 days", MONDAY - DAY, kind="call", deadline=MONDAY + 10 * DAY)
        sooner = item_at(session, "Closes in 2 days", MONDAY - DAY, kind="call", deadline=MONDAY + 2 * DAY)
        edge = item_at(session, "Closes in exactly 14 days", MONDAY - DAY, kind="call", deadline=MONDAY + 14 * DAY)
        news = item_at(session, "News", MONDAY - DAY)
        edition = assemble(session).require()
        assert closed.status == "expired" and closed.id not in carried(edition)
        assert list(sections(edition)) == [NEWS, CLOSING_SOON, OPEN_CALLS]
        assert sections(edition)[CLOSING_SOON] == [sooner.title, soon.title, edge.title]
        assert sections(edition)[OPEN_CALLS] == [later.title]
        assert any("Closed on Friday" in warning and "expired" in warning for warning in edition.warnings)
        assert news.status == "approved"


def test_events_are_those_starting_in_the_next_60_days_ordered_by_start(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():

        def event(title: str, starts: datetime, **fields: object) -> Item:
            return item_at(session, title, MONDAY - DAY, kind="event", starts_at=starts, **({"ends_at": None} | fields))

        in_40 = event("In 40 days", MONDAY + 40 * DAY)
        in_3 = event("In 3 days", MONDAY + 3 * DAY)
        in_59 = event("In 59 days", MONDAY + 59 * DAY)
        in_70 = event("In 70 days", MONDAY + 70 * DAY)
        ended = event("Ended last week", MONDAY - 9 * DAY, ends_at=MONDAY - 8 * DAY)
        running = event("Started yesterday, ends Wednesday", MONDAY - DAY, ends_at=MONDAY + 2 * DAY)
        edition = assemble(session).require()
        assert sections(edition)[EVENTS] == [running.title, in_3.title, in_40.title, in_59.title]
        assert ended.status == "expired" and in_70.status == "approved"
        assert any("In 70 days" in warning and "later digest" in warning for warning in edition.warnings)
        send(session, runtime.config, edition, MONDAY)

        # Weeks later the far event comes within 60 days: it joins that week's digest.
        due_week = MONDAY + 2 * WEEK
        assert in_70.starts_at - EVENT_HORIZON < due_week
        item_at(session, "News of that week", due_week - DAY)
        later = assemble(session, due_week).require()
        assert in_70.id in carried(later)


def test_an_event_far_ahead_waits_without_making_an_empty_digest(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_at(session, "Far away", MONDAY - DAY, kind="event", starts_at=MONDAY + 90 * DAY, ends_at=None)
        result = assemble(session)
        assert result.edition is None
        assert any("Far away" in note for note in result.notes)


def test_a_call_whose_deadline_passes_between_assembly_and_send(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        tight = item_at(session, "Closes at 08:00", MONDAY - DAY, kind="call", deadline=MONDAY + timedelta(hours=2))
        open_call = item_at(session, "Open for a month", MONDAY - DAY, kind="call", deadline=MONDAY + 30 * DAY)
        news = item_at(session, "News", MONDAY - DAY)
        edition = assemble(session).require()  # 07:00 Brussels
        assert tight.id in carried(edition)
        send(session, runtime.config, edition, MONDAY + timedelta(hours=3))  # 10:00: too late for it
        assert tight.id not in carried(edition)
        assert tight.status == "expired"
        assert (open_call.status, news.status) == ("published", "published")
        assert "Closes at 08:00" not in edition.html and "Closes at 08:00" not in edition.text
        assert "Open for a month" in edition.html
        assert any("Closes at 08:00" in warning for warning in edition.warnings)


def test_once_sent_the_order_is_frozen_and_items_are_published(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        a = item_at(session, "First", MONDAY - DAY)
        b = item_at(session, "Second", MONDAY - 2 * DAY)
        edition = assemble(session).require()
        send(session, runtime.config, edition, MONDAY)
        assert (a.status, b.status) == ("published", "published")
        with pytest.raises(EditionError, match="frozen"):
            move_item(session, SYSTEM, edition.id, b.id, position=0)
        assert carried(edition) == [a.id, b.id]
