"""Tests for the bundled demo feeds in sources/samples."""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime

import feedparser
import icalendar
import pytest

from digest.web.public import FAVICON
from sources.samples import SAMPLE_NAMES, render_sample, sample_content_type

STATIC = FAVICON.parent  # digest/web/static: the bundled pictures are served from there

# Around the spring DST change (29 March 2026) and the autumn one (25 October 2026), the year-end
# break, a leap day and an ordinary day.
TODAYS = [
    dt.date(2026, 3, 27),
    dt.date(2026, 10, 23),
    dt.date(2026, 11, 21),
    dt.date(2026, 12, 22),
    dt.date(2027, 1, 4),
    dt.date(2028, 2, 29),
]

EXPECTED_COUNTS = {
    "news.rss": 14,
    "achievements.atom": 12,
    "calls.rss": 12,
    "events.ics": 14,
}

DEADLINE_TEXT = re.compile(r"Deadline:\s*(?:</?\w+>)?\s*(\d{2})/(\d{2})/(\d{4})")
URL_RE = re.compile(r"(?:https?://|mailto:[^@\s]+@)([^/\s\"'<>:]+)")


def _feed(name: str, today: dt.date) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(render_sample(name, today))
    assert not parsed.bozo, f"{name}: {parsed.get('bozo_exception')!r}"
    return parsed


def _calendar(today: dt.date) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(render_sample("events.ics", today))


def _events(today: dt.date) -> list[icalendar.Event]:
    return list(_calendar(today).walk("VEVENT"))


def _start_date(event: icalendar.Event) -> dt.date:
    value = event["DTSTART"].dt
    return value.date() if isinstance(value, dt.datetime) else value


def _deadlines(today: dt.date) -> list[tuple[dt.datetime, str]]:
    return [
        (dt.datetime.fromisoformat(entry["digest_deadline"]), entry.summary)
        for entry in _feed("calls.rss", today).entries
    ]


# --------------------------------------------------------------------------- API


def test_sample_names_and_content_types():
    assert SAMPLE_NAMES == ("news.rss", "achievements.atom", "calls.rss", "events.ics")
    assert sample_content_type("news.rss") == "application/rss+xml"
    assert sample_content_type("calls.rss") == "application/rss+xml"
    assert sample_content_type("achievements.atom") == "application/atom+xml"
    assert sample_content_type("events.ics") == "text/calendar"


def test_unknown_sample_name_raises_value_error():
    with pytest.raises(ValueError, match="unknown sample feed"):
        render_sample("podcast.rss", dt.date(2026, 11, 21))
    with pytest.raises(ValueError, match="unknown sample feed"):
        sample_content_type("news.rss.j2")


def test_accepts_datetime_as_today():
    today = dt.date(2026, 11, 21)
    as_datetime = dt.datetime(2026, 11, 21, 23, 59)
    for name in SAMPLE_NAMES:
        assert render_sample(name, as_datetime) == render_sample(name, today)


# --------------------------------------------------------------------------- feeds parse


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_xml_feeds_parse_with_expected_counts(today):
    total = 0
    for name in ("news.rss", "achievements.atom", "calls.rss"):
        parsed = _feed(name, today)
        assert len(parsed.entries) == EXPECTED_COUNTS[name], name
        total += len(parsed.entries)
        ids = [entry.id for entry in parsed.entries]
        assert len(set(ids)) == len(ids), f"{name}: duplicate ids"
        for entry in parsed.entries:
            assert entry.title and entry.link.startswith("https://clusters.example.eu/")
            sentences = re.sub(r"<[^>]+>", " ", entry.summary)
            assert len(sentences) > 150, entry.title
            country = [tag.term for tag in entry.tags if tag.get("scheme") == "country"]
            assert len(country) == 1, entry.title
    events = _events(today)
    assert len(events) == EXPECTED_COUNTS["events.ics"]
    total += len(events)
    assert total >= 45


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_feed_versions_and_metadata(today):
    news = _feed("news.rss", today)
    assert news.version == "rss20"
    assert news.feed.title == "ECCP News"
    assert _feed("calls.rss", today).version == "rss20"
    atom = _feed("achievements.atom", today)
    assert atom.version == "atom10"
    for entry in news.entries:
        organisations = [tag.term for tag in entry.tags if tag.get("scheme") == "organisation"]
        topics = [tag.term for tag in entry.tags if not tag.get("scheme")]
        assert organisations and topics, entry.title
    for entry in atom.entries:
        assert entry.author, entry.title
    enclosures = [e for e in news.entries if e.get("enclosures") or e.get("media_content")]
    assert len(enclosures) >= 3
    image_links = [link.href for e in news.entries for link in e.get("enclosures", [])]
    assert image_links
    for href in image_links:
        assert href.startswith("/static/samples/") and (STATIC / href.removeprefix("/static/")).is_file(), href


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_published_dates_are_recent(today):
    start_of_today = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    for name in ("news.rss", "achievements.atom", "calls.rss"):
        for entry in _feed(name, today).entries:
            raw = entry.published
            published = dt.datetime.fromisoformat(raw) if name.endswith(".atom") else parsedate_to_datetime(raw)
            age = start_of_today - published
            assert dt.timedelta(0) < age <= dt.timedelta(days=20), (name, entry.title, raw)


def test_only_example_domains_are_linked():
    for name in SAMPLE_NAMES:
        text = render_sample(name, dt.date(2026, 11, 21)).decode("utf-8").replace("\r\n ", "")
        hosts = set(URL_RE.findall(text))
        # XML namespace URIs are identifiers, not links.
        hosts -= {"www.w3.org", "purl.org", "search.yahoo.com", "clusterdigest.eu"}
        assert hosts, name
        bad = {h for h in hosts if not re.search(r"(^|\.)example\.(eu|org)$", h)}
        assert not bad, (name, bad)


# --------------------------------------------------------------------------- calls


def test_feedparser_exposes_namespaced_deadline():
    entry = _feed("calls.rss", dt.date(2026, 11, 21)).entries[0]
    # <digest:deadline> in xmlns:digest="https://clusterdigest.eu/ns/1.0" becomes "digest_deadline".
    assert "digest_deadline" in entry
    assert dt.datetime.fromisoformat(entry["digest_deadline"]).tzinfo is not None


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_call_deadlines_match_text(today):
    deadlines = _deadlines(today)
    assert len(deadlines) == EXPECTED_COUNTS["calls.rss"]
    for deadline, summary in deadlines:
        assert deadline.utcoffset() is not None
        match = DEADLINE_TEXT.search(summary)
        assert match, summary
        day, month, year = (int(g) for g in match.groups())
        assert dt.date(year, month, day) == deadline.date(), summary


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_calls_closing_soon_and_expired(today):
    dates = [deadline.date() for deadline, _ in _deadlines(today)]
    closing_soon = [d for d in dates if today <= d <= today + dt.timedelta(days=14)]
    expired = [d for d in dates if d < today]
    assert len(closing_soon) >= 2
    assert len(expired) == 1
    assert max(dates) > today + dt.timedelta(days=60)


def test_call_invariants_hold_every_day_of_a_year():
    """Deadlines are computed with workday(); check no date breaks the 'closing soon'/'expired' demo."""
    deadline_re = re.compile(rb"<digest:deadline>([^<]+)</digest:deadline>")
    day = dt.date(2026, 1, 1)
    for _ in range(366):
        dates = [
            dt.datetime.fromisoformat(raw.decode()).date()
            for raw in deadline_re.findall(render_sample("calls.rss", day))
        ]
        assert len(dates) == EXPECTED_COUNTS["calls.rss"]
        assert sum(day <= d <= day + dt.timedelta(days=14) for d in dates) >= 2, day
        assert sum(d < day for d in dates) == 1, day
        day += dt.timedelta(days=1)


# --------------------------------------------------------------------------- events


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_events_have_required_properties(today):
    calendar = _calendar(today)
    events = list(calendar.walk("VEVENT"))
    uids = [str(event["UID"]) for event in events]
    assert len(set(uids)) == len(uids)
    for event in events:
        for prop in ("UID", "SUMMARY", "DTSTART", "DTEND", "LOCATION", "DESCRIPTION", "URL", "DTSTAMP"):
            assert prop in event, (prop, event.get("SUMMARY"))
        assert str(event["URL"]).startswith("https://clusters.example.eu/events/")
        assert event["DTEND"].dt > event["DTSTART"].dt
        assert len(str(event["DESCRIPTION"]).split(". ")) >= 2

    declared = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    assert "Europe/Brussels" in declared
    used = {str(e["DTSTART"].params["TZID"]) for e in events if "TZID" in e["DTSTART"].params}
    assert used <= declared
    assert "Europe/Brussels" in used and len(used) >= 2

    all_day = [e for e in events if not isinstance(e["DTSTART"].dt, dt.datetime)]
    assert len(all_day) == 1
    assert all_day[0]["DTSTART"].params.get("VALUE") == "DATE"
    timed = [e for e in events if isinstance(e["DTSTART"].dt, dt.datetime)]
    assert all(e["DTSTART"].dt.tzinfo is not None for e in timed)

    recurring = [e for e in events if "RRULE" in e]
    assert len(recurring) == 1
    assert recurring[0]["RRULE"]["COUNT"] == [4]


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_events_mostly_upcoming(today):
    starts = [_start_date(event) for event in _events(today)]
    past = [d for d in starts if d < today]
    upcoming = [d for d in starts if today < d <= today + dt.timedelta(days=90)]
    assert 2 <= len(past) <= 3
    assert len(upcoming) >= len(starts) - len(past) - 1
    assert len(upcoming) >= 10


def test_event_times_follow_their_time_zone_across_dst():
    # 27 March 2026: DST starts in Europe on Sunday 29 March.
    events = {str(e["UID"]): e for e in _events(dt.date(2026, 3, 27))}
    offsets = {e["DTSTART"].dt.utcoffset() for e in events.values() if isinstance(e["DTSTART"].dt, dt.datetime)}
    assert dt.timedelta(hours=9) in offsets  # Asia/Tokyo mission
    webinar = events["eccp-event-webinar-winning-euroclusters-proposal@clusters.example.eu"]
    assert webinar["DTSTART"].dt.utcoffset() == dt.timedelta(hours=1)  # 25 March, CET
    cafe = events["eccp-event-cluster-cafe-series@clusters.example.eu"]
    assert cafe["DTSTART"].dt.utcoffset() == dt.timedelta(hours=2)  # after 29 March, CEST


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_ics_uses_crlf_and_folds_long_lines(today):
    raw = render_sample("events.ics", today)
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines)
    assert all(line.strip() for line in lines)
    assert any(line.startswith(b" ") for line in lines)  # some DESCRIPTION lines are folded
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-1] == b"END:VCALENDAR"


def test_event_text_is_unescaped_correctly():
    events = {str(e["UID"]): e for e in _events(dt.date(2026, 11, 21))}
    lyon = events["eccp-event-photonics-days-lyon-c2c@clusters.example.eu"]
    assert str(lyon["LOCATION"]) == "Cité Centre de Congrès, 50 Quai Charles de Gaulle, Lyon, France"
    assert "Cluster Lumière" in str(lyon["DESCRIPTION"])
    assert "  " not in str(lyon["DESCRIPTION"])


def test_info_day_in_calls_matches_event():
    today = dt.date(2026, 11, 21)
    calls = render_sample("calls.rss", today).decode()
    info_day = next(e for e in _events(today) if str(e["UID"]).startswith("eccp-event-info-day-joint-cluster"))
    start = _start_date(info_day)
    assert f"info day is held on {start.day} {start.strftime('%B')} {start.year}" in calls


# --------------------------------------------------------------------------- determinism


def test_render_is_deterministic_per_day():
    for name in SAMPLE_NAMES:
        for today in TODAYS:
            assert render_sample(name, today) == render_sample(name, today)


def test_render_differs_between_days():
    for name in SAMPLE_NAMES:
        assert render_sample(name, dt.date(2026, 11, 21)) != render_sample(name, dt.date(2026, 11, 22))


def test_ids_are_stable_across_days():
    for name in ("news.rss", "achievements.atom", "calls.rss"):
        first = [e.id for e in _feed(name, dt.date(2026, 11, 21)).entries]
        second = [e.id for e in _feed(name, dt.date(2027, 5, 3)).entries]
        assert first == second, name
    first_uids = [str(e["UID"]) for e in _events(dt.date(2026, 11, 21))]
    second_uids = [str(e["UID"]) for e in _events(dt.date(2027, 5, 3))]
    assert first_uids == second_uids
