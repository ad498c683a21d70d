"""iCalendar: start, end, time zone, location, all-day events, recurrence expanded within a window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sources.entry import ParseError
from sources.ical import looks_like_calendar, parse_calendar
from tests.feedserver import FIXTURES

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def parse(body: bytes, **window: int):
    options = {"future_days": 180, "past_days": 30, **window}
    return parse_calendar(body, now=NOW, default_zone="Europe/Brussels", **options)


@pytest.fixture(scope="module")
def events() -> dict:
    parsed = parse((FIXTURES / "events.ics").read_bytes())
    assert parsed.warnings == []
    return {entry.guid: entry for entry in parsed.entries}


def test_a_timed_event_with_its_own_zone(events) -> None:
    summit = events["single-timed@events.example.org"]
    assert summit.title == "Hydrogen cluster summit"
    assert summit.starts_at == datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
    assert summit.ends_at == datetime(2027, 3, 11, 16, 0, tzinfo=UTC)
    assert summit.timezone == "Europe/Berlin"
    assert summit.location == "Congress Centre, Hamburg, Germany"
    assert summit.organisation == "Hamburg Hydrogen Cluster"
    assert summit.link == "https://events.example.org/hydrogen-summit"
    assert summit.categories == [("Conference", None), ("Energy", None)]
    assert summit.summary_html == "<p>Two days of talks.<br>Register online.</p>"
    assert summit.is_event


def test_an_all_day_event_spans_whole_local_days(events) -> None:
    days = events["all-day@events.example.org"]
    assert days.starts_at == datetime(2027, 3, 31, 22, 0, tzinfo=UTC)  # 1 April, 00:00 in Brussels
    assert days.ends_at == datetime(2027, 4, 2, 21, 59, 59, tzinfo=UTC)  # DTEND is exclusive
    assert days.timezone == "Europe/Brussels"


def test_floating_times_use_the_calendar_zone(events) -> None:
    workshop = events["floating@events.example.org"]
    assert workshop.starts_at == datetime(2027, 1, 15, 13, 0, tzinfo=UTC)
    assert workshop.timezone == "Europe/Brussels"


def test_utc_times_and_duration(events) -> None:
    webinar = events["utc@events.example.org"]
    assert (webinar.starts_at, webinar.ends_at) == (
        datetime(2027, 1, 20, 10, 0, tzinfo=UTC),
        datetime(2027, 1, 20, 11, 30, tzinfo=UTC),
    )
    assert webinar.timezone == "UTC"


def test_weekly_rule_with_exdate_and_a_moved_occurrence(events) -> None:
    cafe = sorted((e for g, e in events.items() if g.startswith("weekly@")), key=lambda e: e.starts_at)
    assert [e.guid for e in cafe] == [
        "weekly@events.example.org#20261201T100000Z",
        "weekly@events.example.org#20261208T100000Z",
        "weekly@events.example.org#20261215T100000Z",  # moved, keeps its original identity
        "weekly@events.example.org#20261229T100000Z",
        "weekly@events.example.org#20270105T100000Z",
    ]
    moved = cafe[2]
    assert moved.title == "Weekly cluster café (moved to the afternoon)"
    assert moved.starts_at == datetime(2026, 12, 15, 14, 0, tzinfo=UTC)


def test_an_endless_rule_is_expanded_only_within_the_window(events) -> None:
    monthly = sorted(e.starts_at for g, e in events.items() if g.startswith("forever@"))
    assert monthly[0] == datetime(2026, 11, 5, 9, 0, tzinfo=UTC)  # within the 30 days looked back
    assert monthly[-1] == datetime(2027, 5, 5, 8, 0, tzinfo=UTC)  # summer time
    assert len(monthly) == 7


def test_the_window_is_configurable() -> None:
    parsed = parse((FIXTURES / "events.ics").read_bytes(), future_days=20, past_days=0)
    monthly = [entry for entry in parsed.entries if entry.guid.startswith("forever@")]
    assert [entry.starts_at.date().isoformat() for entry in monthly] == ["2026-12-05"]


def test_cancelled_private_and_long_past_events_are_left_out(events) -> None:
    assert "cancelled@events.example.org" not in events
    assert "private@events.example.org" not in events
    assert "long-past@events.example.org" not in events
    assert len(events) == 16


def test_recognised_by_content_type_or_by_its_first_line() -> None:
    assert looks_like_calendar(b"", {"content-type": "text/calendar; charset=utf-8"})
    assert looks_like_calendar(b"\xef\xbb\xbf\r\nBEGIN:VCALENDAR\r\n", {"content-type": "text/plain"})
    assert not looks_like_calendar(b"<rss/>", {"content-type": "application/rss+xml"})


def test_not_a_calendar() -> None:
    with pytest.raises(ParseError, match="not a valid iCalendar file"):
        parse(b"BEGIN:VCALENDAR\r\nthis is not a property line\r\n")
    with pytest.raises(ParseError, match="empty response"):
        parse(b"   ")


def test_a_broken_rule_costs_only_its_own_series() -> None:
    body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        b"BEGIN:VEVENT\r\nUID:bad\r\nSUMMARY:Bad rule\r\nDTSTART:20261201T100000Z\r\nRRULE:FREQ=SOMETIMES\r\n"
        b"END:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:ok\r\nSUMMARY:Fine\r\nDTSTART:20261202T100000Z\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:nostart\r\nSUMMARY:No start\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n"
    )
    parsed = parse(body)
    assert [entry.guid for entry in parsed.entries] == ["ok"]


def test_rules_firing_more_often_than_daily_are_left_out_and_spare_the_other_series() -> None:
    body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        b"BEGIN:VEVENT\r\nUID:flood\r\nSUMMARY:Flood\r\nDTSTART:20261201T100000Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n"
        b"BEGIN:VEVENT\r\nUID:monthly\r\nSUMMARY:Monthly\r\nDTSTART:20261201T100000Z\r\nRRULE:FREQ=MONTHLY\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    parsed = parse(body)

    assert [entry.guid for entry in parsed.entries] == [f"monthly#2026{month}01T100000Z" for month in ("12",)] + [
        f"monthly#2027{month:02d}01T100000Z" for month in range(1, 6)
    ]
    assert parsed.warnings == ["recurring event flood repeats more often than daily: left out"]


def test_a_daily_rule_is_capped_at_a_year_of_occurrences() -> None:
    body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        b"BEGIN:VEVENT\r\nUID:daily\r\nSUMMARY:Daily\r\nDTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )

    parsed = parse(body, future_days=1000)

    assert len(parsed.entries) == 366
    assert parsed.warnings == ["recurring event daily: only its first 366 occurrences kept"]
