"""The archive's feeds (Atom, read back with feedparser) and calendars (read back with icalendar)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import feedparser
import pytest
from flask.testing import FlaskClient
from icalendar import Calendar

from digest.runtime import Runtime
from digest.web import create_app
from tests.archive.helpers import at, personal_leaks, publish
from tests.factories import make_item

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)  # relative: never asserted as a date


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    publish(
        runtime,
        [
            ("Hydrogen valleys network grows", "news", {"summary": "<p>Twelve <b>regions</b> join.</p>"}),
            ("Matchmaking days in Lyon", "event", {"starts_at": SOON, "ends_at": SOON + timedelta(hours=6)}),
        ],
        when=at(2026, 9, 3),
        title="September newsletter",
    )
    publish(runtime, [("Open call for textile SMEs", "call")], when=at(2026, 10, 1), title="October newsletter")
    return create_app(runtime).test_client()


def parse_feed(client: FlaskClient, path: str) -> feedparser.FeedParserDict:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    assert personal_leaks(response.get_data(as_text=True)) == []
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_the_editions_feed_carries_each_sent_edition_in_full(client: FlaskClient) -> None:
    feed = parse_feed(client, "/archive/feed.xml")
    assert [entry.title for entry in feed.entries] == ["October newsletter", "September newsletter"]
    september = feed.entries[1]
    assert september.link == "http://digest.test/archive/newsletter-2026-09-03"
    assert september.id == september.link
    content = september.content[0].value
    assert "Hydrogen valleys network grows" in content and "<b>regions</b>" in content
    assert "Matchmaking days in Lyon" in content
    assert september.published_parsed[:3] == (2026, 9, 3)
    assert feed.feed.updated_parsed[:3] == (2026, 10, 1)  # the newest edition, not the time of the request


def test_the_items_feed_carries_the_published_items_with_their_edition(client: FlaskClient) -> None:
    feed = parse_feed(client, "/archive/items.xml")
    titles = [entry.title for entry in feed.entries]
    assert titles == ["Open call for textile SMEs", "Hydrogen valleys network grows", "Matchmaking days in Lyon"]
    hydrogen = feed.entries[1]
    assert hydrogen.link.startswith("https://clusters.example.eu/")
    assert len(hydrogen.links) == 1
    content = hydrogen.content[0].value
    assert 'href="http://digest.test/archive/newsletter-2026-09-03"' in content and "<b>regions</b>" in content
    assert hydrogen.tags[0].term == "news"
    assert len({entry.id for entry in feed.entries}) == 3


def read_calendar(client: FlaskClient, path: str) -> Calendar:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    for event in calendar.walk("VEVENT"):
        for prop in ("UID", "DTSTAMP", "DTSTART", "SUMMARY", "LOCATION", "URL", "DESCRIPTION"):
            assert prop in event, prop
        assert "<" not in str(event["DESCRIPTION"])  # plain text
        start = event.decoded("DTSTART")
        assert not isinstance(start, datetime) or start.tzinfo is not None  # UTC, never floating
    return calendar


def test_an_event_has_its_own_calendar_file(runtime: Runtime, client: FlaskClient) -> None:
    calendar = read_calendar(client, "/events/2.ics")
    (event,) = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Matchmaking days in Lyon"
    assert str(event["LOCATION"]) == "Brussels, Belgium"
    assert event.decoded("DTSTART") == SOON and event.decoded("DTEND") == SOON + timedelta(hours=6)
    assert str(event["UID"]) == "event-2@digest.test"
    assert "About Matchmaking days in Lyon." in str(event["DESCRIPTION"])
    assert client.get("/events/1.ics").status_code == 404  # a news item is no event
    assert client.get("/events/999.ics").status_code == 404


def test_only_vetted_upcoming_events_are_in_the_calendar_feed(runtime: Runtime, client: FlaskClient) -> None:
    with runtime.sessions() as session, session.begin():
        approved = make_item(session, "Approved summit", kind="event", starts_at=SOON + timedelta(days=1))
        pending = make_item(session, "Unvetted submitted event", kind="event", status="pending")
        rejected = make_item(session, "Rejected event", kind="event", status="rejected")
        past = make_item(
            session, "Summit that is over", kind="event", starts_at=SOON - timedelta(days=60), ends_at=None
        )
        ids = {"approved": approved.id, "pending": pending.id, "rejected": rejected.id, "past": past.id}
    calendar = read_calendar(client, "/events.ics")
    summaries = [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")]
    assert summaries == ["Matchmaking days in Lyon", "Approved summit"]
    assert client.get(f"/events/{ids['approved']}.ics").status_code == 200
    assert client.get(f"/events/{ids['pending']}.ics").status_code == 404
    assert client.get(f"/events/{ids['rejected']}.ics").status_code == 404


def test_an_all_day_event_is_written_with_dates(runtime: Runtime, client: FlaskClient) -> None:
    brussels = ZoneInfo("Europe/Brussels")
    first_day = (SOON + timedelta(days=3)).astimezone(brussels).replace(hour=0, minute=0, second=0)
    with runtime.sessions() as session, session.begin():
        fair = make_item(
            session,
            "Three-day cluster fair",
            kind="event",
            starts_at=first_day.astimezone(UTC),
            ends_at=(first_day + timedelta(days=3)).astimezone(UTC),
            timezone="Europe/Brussels",
        )
    (event,) = read_calendar(client, f"/events/{fair.id}.ics").walk("VEVENT")
    assert event.decoded("DTSTART") == first_day.date()
    assert event.decoded("DTEND") == (first_day + timedelta(days=3)).date()
