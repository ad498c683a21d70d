"""One source cannot flood the queue: collect.max_items_per_source bounds the new items of one fetch,
and the expansion of recurring events has one budget per source, not only one per series."""

from __future__ import annotations

from datetime import timedelta

from sources.collector import collect
from tests.feedserver import body
from tests.sources.helpers import FAST, NOW, add_source, items_of, source_row

SERIES = 2000


def endless_series_calendar(count: int) -> bytes:
    """`count` daily events that never end, each its own series (the flood from issue 13: 341 KiB)."""
    start = NOW - timedelta(days=3)
    events = [
        "BEGIN:VEVENT\r\n"
        f"UID:series-{number}@flood.example\r\n"
        f"DTSTART:{(start + timedelta(minutes=number)).strftime('%Y%m%dT%H%M%SZ')}\r\n"
        "DURATION:PT1H\r\n"
        f"SUMMARY:Daily meeting number {number}\r\n"
        "RRULE:FREQ=DAILY\r\n"
        "END:VEVENT\r\n"
        for number in range(count)
    ]
    calendar = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//flood//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"
    return calendar.encode()


def rss_with(count: int) -> bytes:
    items = "".join(
        f"<item><title>Story {number}</title><link>https://news.example/{number}</link>"
        f"<guid>https://news.example/{number}</guid><description>Text {number}</description></item>"
        for number in range(count)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Many</title>{items}</channel></rss>'.encode()


def test_two_thousand_endless_series_yield_at_most_the_budget(runtime, feed_server) -> None:
    calendar = endless_series_calendar(SERIES)
    assert len(calendar) > 200 * 1024
    add_source(runtime, "flood", feed_server.route("/flood.ics", body(calendar, "text/calendar")))

    [result] = collect(runtime, now=NOW, settings=FAST)

    assert result.status == "ok", result.error
    assert FAST.max_items_per_source == 1000
    assert result.fetched == 1000  # occurrences expanded: the budget, not 2,000 series × 180 days
    assert result.new == len(items_of(runtime, "flood")) == 1000
    warning = source_row(runtime, "flood").last_warning
    assert "expansion stopped at 1000 occurrences" in warning and f"{SERIES} series" in warning, warning
    # The soonest occurrences were kept: nothing later than the first couple of days of the window.
    assert max(item.starts_at for item in items_of(runtime, "flood")) < NOW + timedelta(days=2)


def test_one_fetch_adds_at_most_max_items_per_source_and_says_how_many_were_left_out(runtime, feed_server) -> None:
    add_source(runtime, "many", feed_server.route("/many.rss", body(rss_with(30))))

    [result] = collect(runtime, now=NOW, settings=FAST.model_copy(update={"max_items_per_source": 10}))

    assert (result.status, result.fetched, result.new) == ("ok", 30, 10)
    assert len(items_of(runtime, "many")) == 10
    assert "20 new items left out: one fetch adds at most 10 (collect.max_items_per_source)" in result.warnings
    assert "20 new items left out" in source_row(runtime, "many").last_warning


def test_items_already_stored_do_not_count_against_the_limit(runtime, feed_server) -> None:
    add_source(runtime, "growing", feed_server.route("/growing.rss", body(rss_with(5))))
    collect(runtime, now=NOW, settings=FAST)
    feed_server.route("/growing.rss", body(rss_with(12)))

    [result] = collect(runtime, now=NOW, settings=FAST.model_copy(update={"max_items_per_source": 5}))

    assert (result.new, result.duplicates) == (5, 5)
    assert "2 new items left out" in source_row(runtime, "growing").last_warning
