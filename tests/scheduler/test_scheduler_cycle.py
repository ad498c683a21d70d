"""The scheduler's week, driven by a test clock: collect, assemble on Monday 07:00, send at 09:00, over
several weeks, through a missed week, restarts and a send whose time passed while it was down.

The scheduler is the Runner the service runs (APScheduler only decides *when* to call it); a real feed
server, a real SMTP server and the real delivery worker do the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.editions.assembly import assemble_digest
from digest.editions.lifecycle import schedule
from digest.editions.newsletter import create_newsletter
from digest.models import Delivery, Edition, JobRun
from digest.runtime import Runtime
from scheduler import runs
from sources.collector import collect
from tests.factories import make_item, store_unknown_kind
from tests.scheduler.helpers import (
    EDITOR,
    Cycle,
    WeeklyFeed,
    approve_pending,
    brussels,
    digests,
    edition_copies,
    job_runs,
    monday,
    notices_to_editors,
    scheduler_runtime,
)
from tests.smtpserver import RecordingHandler

DAY = timedelta(days=1)
READERS = {f"reader{n}@example.org" for n in range(3)}
TZ = "Europe/Brussels"


def started(write_config, smtp, now: datetime, **schedules: Any) -> tuple[RecordingHandler, Cycle]:
    """A scheduler (3 readers and 1 editor, mailing the test SMTP server) first started at ``now``: the SMTP
    server's handler and the cycle."""
    handler, port = smtp
    cycle = Cycle(scheduler_runtime(write_config, port, **schedules))
    cycle.at(now)
    return handler, cycle


def readers_of(runtime: Runtime, handler: RecordingHandler, edition_id: int) -> dict[str, int]:
    copies = edition_copies(handler, runtime).items()
    return {reader: count for (edition, reader), count in copies if edition == edition_id}


def week_of_news(feed: WeeklyFeed, cycle: Cycle, week: int) -> list[str]:
    """Thursday before the week's Monday: two items are published, collected at noon, approved at 14:00."""
    thursday = monday(week) - 4 * DAY
    titles = [f"Week {week} news {letter}" for letter in "AB"]
    for title in titles:
        feed.publish(title, brussels(thursday, 9))
    cycle.at(brussels(thursday, 12))
    assert sorted(approve_pending(cycle.runtime, brussels(thursday, 14))) == titles
    return titles


def test_the_weekly_cycle_runs_three_weeks_on_time_and_once(write_config, smtp, feed_server) -> None:
    handler, port = smtp
    runtime = scheduler_runtime(write_config, port, digest_auto_send=True)
    feed = WeeklyFeed(feed_server, runtime)
    cycle = Cycle(runtime)

    first_start = cycle.at(brussels(monday(0) - 5 * DAY, 10))  # a Wednesday
    assert [job for job, _ in first_start] == ["collect", "expire_calls", "send_scheduled", "cleanup"]
    [waiting] = job_runs(runtime, "digest_assemble")
    assert waiting.outcome == "skipped" and "first start" in waiting.detail  # no digest on a Wednesday

    for week in range(3):
        day = monday(week)
        titles = week_of_news(feed, cycle, week)

        assert ("digest_assemble", "ok") in cycle.at(brussels(day, 7))
        edition = digests(runtime)[-1]
        assert (edition.status, edition.scheduled_at, edition.titles) == ("scheduled", brussels(day, 9), titles)

        assert ("send_scheduled", "ok") in cycle.at(brussels(day, 8, 30))
        assert digests(runtime)[-1].status == "scheduled" and readers_of(runtime, handler, edition.id) == {}

        cycle.at(brussels(day, 9))
        assert digests(runtime)[-1].status == "sent"
        assert readers_of(runtime, handler, edition.id) == dict.fromkeys(READERS, 1)

        assert cycle.at(brussels(day, 9)) == []  # the same moment again: nothing is owed twice
        assert readers_of(runtime, handler, edition.id) == dict.fromkeys(READERS, 1)

    sent = digests(runtime)
    assert [edition.status for edition in sent] == ["sent"] * 3
    assert [edition.titles for edition in sent] == [[f"Week {w} news A", f"Week {w} news B"] for w in range(3)]
    assembled = [run for run in job_runs(runtime, "digest_assemble") if run.outcome == "ok"]
    assert [run.scheduled_for for run in assembled] == [brussels(monday(w), 7) for w in range(3)]
    assert notices_to_editors(handler) == []  # nothing went wrong: nobody is bothered


@pytest.fixture
def first_digest_assembled(write_config, smtp, feed_server) -> tuple[RecordingHandler, WeeklyFeed, Cycle]:
    """An auto-sending scheduler first started on the Wednesday before week 0, that week's news approved,
    and the digest assembled on Monday 07:00 (due at 09:00): the SMTP server's handler, the feed, the cycle."""
    handler, cycle = started(write_config, smtp, brussels(monday(0) - 5 * DAY, 10), digest_auto_send=True)
    feed = WeeklyFeed(feed_server, cycle.runtime)
    week_of_news(feed, cycle, 0)
    cycle.at(brussels(monday(0), 7))
    return handler, feed, cycle


def test_a_missed_week_is_caught_up_once_and_covered_by_the_next_digest(first_digest_assembled) -> None:
    handler, feed, cycle = first_digest_assembled
    runtime = cycle.runtime
    cycle.at(brussels(monday(0), 9))
    [first] = digests(runtime)
    assert first.status == "sent"

    # The scheduler is down from Monday of week 0 to Tuesday of week 2. The editors collect and approve by hand.
    for week in (1, 2):
        thursday = monday(week) - 4 * DAY
        feed.publish(f"Week {week} news", brussels(thursday, 9))
        collect(runtime, now=brussels(thursday, 12))
        approve_pending(runtime, brussels(thursday, 14))

    cycle.restart(brussels(monday(2) + DAY, 10))
    ran = cycle.at(brussels(monday(2) + DAY, 10))
    assert ("digest_assemble", "ok") in ran and ("collect", "ok") in ran

    first, second = digests(runtime)  # one digest for the two missed Mondays, not two
    assert second.titles == ["Week 2 news", "Week 1 news"]
    assert second.status == "draft"  # its sending time (Monday 09:00) passed a day ago: beyond the grace period
    assembly = job_runs(runtime, "digest_assemble")[-1]
    assert assembly.scheduled_for == brussels(monday(2), 7)
    assert "caught up after 15 days without a run: the missed runs folded into one" in assembly.detail
    assert "told 1 editor" in assembly.detail
    assert job_runs(runtime, "collect")[-1].scheduled_for == brussels(monday(2) + DAY, 10)  # once, for all it missed
    [notice] = notices_to_editors(handler)
    assert notice.startswith("[Test Cluster Platform] The weekly digest is ready for review")
    assert "passed more than 6 hours ago" in handler.to(EDITOR)[0].message.get_content()

    # Nobody sends it; next Monday the same draft is brought up to date and goes out at 09:00.
    feed.publish("Week 3 news", brussels(monday(3) - 4 * DAY, 9))
    cycle.at(brussels(monday(3) - 4 * DAY, 12))
    approve_pending(runtime, brussels(monday(3) - 4 * DAY, 14))
    cycle.at(brussels(monday(3), 7))
    cycle.at(brussels(monday(3), 9))
    first, second = digests(runtime)
    assert second.status == "sent" and sorted(second.titles) == ["Week 1 news", "Week 2 news", "Week 3 news"]
    assert readers_of(runtime, handler, second.id) == dict.fromkeys(READERS, 1)
    assert len(notices_to_editors(handler)) == 1


def test_a_restart_between_assembly_and_send_sends_once(first_digest_assembled) -> None:
    handler, _feed, cycle = first_digest_assembled
    runtime = cycle.runtime

    cycle.restart(brussels(monday(0), 8))
    assert ("digest_assemble", "ok") not in cycle.at(brussels(monday(0), 8))  # answered before the restart
    cycle.at(brussels(monday(0), 9, 1))

    [edition] = digests(runtime)
    assert edition.status == "sent" and readers_of(runtime, handler, edition.id) == dict.fromkeys(READERS, 1)


def test_an_assembly_interrupted_by_a_crash_is_done_again_without_a_second_digest(write_config, smtp) -> None:
    handler, cycle = started(write_config, smtp, brussels(monday(0) - 5 * DAY, 10), digest_auto_send=True)
    runtime = cycle.runtime
    fire = brussels(monday(0), 7)
    # A scheduler started the assembly, the digest was committed, and the process died before scheduling it.
    with runtime.sessions() as session, session.begin():
        make_item(session, "Approved before the crash", approved_at=fire - DAY, published_at=fire - DAY)
        runs.begin(session, "digest_assemble", fire, fire, "dead-scheduler")
        assemble_digest(session, TZ, now=fire)

    cycle.restart(brussels(monday(0), 7, 20))
    assert ("digest_assemble", "ok") in cycle.at(brussels(monday(0), 7, 20))
    cycle.at(brussels(monday(0), 9))

    [edition] = digests(runtime)
    assert edition.status == "sent" and edition.titles == ["Approved before the crash"]
    assert [run.outcome for run in job_runs(runtime, "digest_assemble")] == ["skipped", "interrupted", "ok"]
    assert readers_of(runtime, handler, edition.id) == dict.fromkeys(READERS, 1)


def test_a_send_missed_beyond_the_grace_period_goes_back_to_the_editors(write_config, smtp) -> None:
    tuesday = monday(0) + DAY
    handler, cycle = started(write_config, smtp, brussels(tuesday, 8))
    runtime = cycle.runtime
    with runtime.sessions() as session, session.begin():
        make_item(session, "Too late", published_at=brussels(tuesday, 7))
        late = create_newsletter(session, TZ, title="Ten o'clock newsletter", now=brussels(tuesday, 8))
        schedule(session, SYSTEM, late.id, brussels(tuesday, 10), now=brussels(tuesday, 8))
        make_item(session, "In time", published_at=brussels(tuesday, 7))
        in_time = create_newsletter(session, TZ, title="Noon newsletter", now=brussels(tuesday, 8))
        schedule(session, SYSTEM, in_time.id, brussels(tuesday, 12), now=brussels(tuesday, 8))
        late_id, in_time_id = late.id, in_time.id
    cycle.at(brussels(tuesday, 9))

    # Down from 09:00 to 16:30: 10:00 is 6.5 hours ago (beyond the 6-hour grace), noon is 4.5 hours ago.
    cycle.restart(brussels(tuesday, 16, 30))
    assert ("send_scheduled", "ok") in cycle.at(brussels(tuesday, 16, 30))

    with runtime.sessions() as session:
        late, in_time = session.get(Edition, late_id), session.get(Edition, in_time_id)
        assert (late.status, late.scheduled_at) == ("draft", None)
        assert late.last_error.startswith("Not sent: its time, Tuesday 05 January 2027, 10:00 CET, passed 6.5 hours")
        assert late.last_error in late.warnings
        assert session.scalar(select(func.count()).where(Delivery.edition_id == late_id)) == 0
        assert in_time.status == "sent"
    assert readers_of(runtime, handler, in_time_id) == dict.fromkeys(READERS, 1)
    assert notices_to_editors(handler) == ["[Test Cluster Platform] Not sent at its time: Ten o'clock newsletter"]
    detail = job_runs(runtime, "send_scheduled")[-1].detail
    assert f"edition {late_id} missed its time by 6.5 h" in detail and f"edition {in_time_id} is sending" in detail
    assert "caught up after 7 h without a run" in detail

    cycle.at(brussels(tuesday, 16, 31))  # the next tick changes nothing and tells nobody again
    assert len(notices_to_editors(handler)) == 1


def test_without_automatic_sending_the_editors_are_told_a_draft_is_ready(write_config, smtp) -> None:
    handler, cycle = started(write_config, smtp, brussels(monday(0) - DAY, 10), digest_auto_send=False)
    runtime = cycle.runtime
    with runtime.sessions() as session, session.begin():
        make_item(session, "Sunday news", approved_at=brussels(monday(0) - DAY, 11), published_at=None)

    cycle.at(brussels(monday(0), 7))
    cycle.at(brussels(monday(0), 9))

    [edition] = digests(runtime)
    assert edition.status == "draft"
    [notice] = handler.to(EDITOR)
    text = notice.message.get_content()
    assert notice.message["Subject"].endswith(f"ready for review: {edition.title}")
    assert "Automatic sending is off" in text and f"http://digest.test/editor/editions/{edition.id}" in text
    assert f"digest edition send {edition.id}" in text
    assert edition_copies(handler, runtime) == {}


def test_a_digest_held_by_an_editor_is_not_sent(write_config, smtp) -> None:
    handler, cycle = started(write_config, smtp, brussels(monday(0) - DAY, 10), digest_auto_send=True)
    runtime = cycle.runtime
    with runtime.sessions() as session, session.begin():
        make_item(session, "Sunday news", approved_at=brussels(monday(0) - DAY, 11))
    cycle.at(brussels(monday(0), 7))
    with runtime.sessions() as session, session.begin():
        session.scalar(select(Edition)).held = True  # an editor holds it at 08:00

    cycle.at(brussels(monday(0), 9))

    [edition] = digests(runtime)
    assert (edition.status, edition.scheduled_at) == ("draft", None)
    assert "Held by an editor: not sent automatically at Monday 04 January 2027, 09:00 CET." in edition.warnings
    assert edition_copies(handler, runtime) == {} and notices_to_editors(handler) == []


def test_a_missed_assembly_is_not_run_when_the_editors_sent_the_digest_meanwhile(write_config, smtp) -> None:
    handler, cycle = started(write_config, smtp, brussels(monday(0) - DAY, 10), digest_auto_send=True)
    runtime = cycle.runtime
    with runtime.sessions() as session, session.begin():
        make_item(session, "Sunday news", approved_at=brussels(monday(0) - DAY, 11))
    # The scheduler is down on Monday morning; an editor assembles and sends the digest by hand at 08:00.
    with runtime.sessions() as session, session.begin():
        edition = assemble_digest(session, TZ, now=brussels(monday(0), 8)).require()
        start_sending(session, runtime.config, edition.id, brussels(monday(0), 8))
    with runtime.sessions() as session, session.begin():
        make_item(session, "Approved at 08:30", approved_at=brussels(monday(0), 8, 30))

    cycle.restart(brussels(monday(0), 10))
    assert ("digest_assemble", "skipped") in cycle.at(brussels(monday(0), 10))

    [edition] = digests(runtime)  # not a second digest for the 08:30 item: that is next week's
    assert "digest (edition 1) is already sending" in job_runs(runtime, "digest_assemble")[-1].detail
    assert readers_of(runtime, handler, edition.id) == dict.fromkeys(READERS, 1)  # the editor's send, delivered once


def test_every_run_is_recorded_with_its_trigger_time_and_owner(write_config, smtp) -> None:
    _, port = smtp
    runtime = scheduler_runtime(write_config, port)
    cycle = Cycle(runtime, owner="host:1:abc")
    start = brussels(monday(0), 6, 10)
    cycle.at(start)
    cycle.at(brussels(monday(0), 7, 31))
    with runtime.sessions() as session:
        collected = list(session.scalars(select(JobRun).where(JobRun.job == "collect").order_by(JobRun.id)))
    assert [(run.scheduled_for, run.owner, run.outcome) for run in collected] == [
        (start, "host:1:abc", "ok"),
        (brussels(monday(0), 7, 30), "host:1:abc", "ok"),
    ]
    caught_up = "caught up after 81 min without a run: the missed runs folded into one"
    assert collected[1].detail == f"no source due ({caught_up})"
    assert all(run.started_at <= run.finished_at for run in collected)


def test_an_edition_that_does_not_render_goes_back_to_the_editors_and_holds_up_no_other(write_config, smtp) -> None:
    tuesday = monday(0) + DAY
    handler, cycle = started(write_config, smtp, brussels(tuesday, 8))
    runtime = cycle.runtime
    with runtime.sessions() as session, session.begin():
        editions = []
        for title in ("Broken", "Fine"):
            item = make_item(session, f"{title} item", published_at=brussels(tuesday, 7))
            edition = create_newsletter(
                session, TZ, title=title, sections=[("News", [item.id])], now=brussels(tuesday, 8)
            )
            schedule(session, SYSTEM, edition.id, brussels(tuesday, 10), now=brussels(tuesday, 8))
            editions.append((edition.id, item))
        (broken_id, broken_item), (fine_id, _) = editions
        store_unknown_kind(session, broken_item)  # no template knows it

    assert ("send_scheduled", "error") in cycle.at(brussels(tuesday, 10))

    with runtime.sessions() as session:
        broken, fine = session.get(Edition, broken_id), session.get(Edition, fine_id)
        assert (broken.status, broken.scheduled_at, broken.html) == ("draft", None, None)
        assert (
            broken.last_error.startswith(f"not sent: edition {broken_id} was not sent: item")
            and "podcast" in broken.last_error
        )
        assert fine.status == "sent"
    assert readers_of(runtime, handler, fine_id) == dict.fromkeys(READERS, 1)
    assert readers_of(runtime, handler, broken_id) == {}
    assert notices_to_editors(handler) == ["[Test Cluster Platform] Could not be sent: Broken"]
