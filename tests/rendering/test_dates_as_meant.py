"""Dates as the source means them (digest/rendering/dates.py): all-day events stay all-day from the feed or the
submission to the email, the editors' pages and the published .ics; a deadline shows in its own zone with the
site's clock after it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from digest.audit import SYSTEM
from digest.editions.compose import item_view, site_view
from digest.items.edits import ItemChanges, edit_item
from digest.models import Item
from digest.rendering import dates
from digest.rendering.render import EditionView, RenderedEdition, SectionView, render_edition
from digest.runtime import Runtime
from sources.collector import collect
from tests.editor_helpers import EDITOR, desk
from tests.factories import make_item
from tests.feedserver import FeedServer, body
from tests.sources.helpers import FAST, NOW, add_source, items_of
from tests.submissions.helpers import running_site, valid

BRUSSELS, LISBON = ZoneInfo("Europe/Brussels"), ZoneInfo("Europe/Lisbon")


def calendar(dtstart: str, dtend: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nX-WR-TIMEZONE:Europe/Brussels\r\n"
        "BEGIN:VEVENT\r\nUID:fair@events.example.org\r\nSUMMARY:Cluster fair\r\n"
        f"DTSTART;VALUE=DATE:{dtstart}\r\nDTEND;VALUE=DATE:{dtend}\r\n"
        "LOCATION:Ghent\r\nURL:https://events.example.org/fair\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def rendered(runtime: Runtime, items: list[Item], today: date | None = None) -> RenderedEdition:
    view = EditionView(
        title="Weekly digest",
        subject="Weekly digest",
        preheader="",
        sections=(SectionView("Events and calls", tuple(item_view(runtime.config, item) for item in items)),),
        archive_url="http://digest.test/archive/weekly",
    )
    return render_edition(view, site_view(runtime.config), today or NOW.date())


def approve(runtime: Runtime, item_id: int) -> Item:
    with runtime.sessions() as session, session.begin():
        item = session.get(Item, item_id)
        item.status = "approved"
    with runtime.sessions() as session:
        return session.get(Item, item_id)


@pytest.mark.parametrize(
    ("dtend", "shown", "exported_end"),
    [("20270108", "Thu 7 Jan 2027", "20270108"), ("20270109", "7–8 Jan 2027", "20270109")],
    ids=["one day", "two days"],
)
def test_an_ical_all_day_event_stays_all_day_in_the_email_the_editors_queue_and_the_ics(
    runtime: Runtime, app: Flask, feed_server: FeedServer, dtend: str, shown: str, exported_end: str
) -> None:
    add_source(runtime, "fairs", feed_server.route("/fairs.ics", body(calendar("20270107", dtend), "text/calendar")))
    collect(runtime, now=NOW, settings=FAST)
    [stored] = items_of(runtime, "fairs")
    assert stored.all_day and stored.timezone == "Europe/Brussels"
    fair = approve(runtime, stored.id)

    email = rendered(runtime, [fair])
    for part in (email.html, email.text):
        assert shown in part
        assert "00:00" not in part and "23:59" not in part
    assert f"When: {shown}\n" in email.text  # dates only: no "from 00:00 CET"
    assert shown in desk(app, EDITOR).page("/editor/?status=all&kind=event")

    exported = app.test_client().get(f"/events/{fair.id}.ics").get_data(as_text=True)
    assert "DTSTART;VALUE=DATE:20270107\r\n" in exported
    assert f"DTEND;VALUE=DATE:{exported_end}\r\n" in exported  # exclusive, as RFC 5545 has it


def test_a_feeds_bare_event_dates_are_whole_days_in_the_sites_zone(runtime: Runtime, feed_server: FeedServer) -> None:
    rss = (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel>'
        b"<title>Fairs</title><link>https://fairs.example.org/</link><description>d</description>"
        b"<item><title>Cluster fair in Ghent</title><link>https://fairs.example.org/ghent</link>"
        b"<description>Two days.</description><ev:startdate>2027-01-07</ev:startdate>"
        b"<ev:enddate>2027-01-08</ev:enddate></item></channel></rss>"
    )
    add_source(runtime, "fairs", feed_server.route("/fairs.rss", body(rss)), "event")
    collect(runtime, now=NOW, settings=FAST)
    [fair] = items_of(runtime, "fairs")
    assert fair.all_day and fair.timezone == "Europe/Brussels"
    assert fair.starts_at == datetime(2027, 1, 7, tzinfo=BRUSSELS)  # Ghent's midnight, not UTC's
    assert "When: 7–8 Jan 2027\n" in rendered(runtime, [fair]).text


def days_ahead(days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


@pytest.mark.parametrize("path", ["form", "api", "form with the all-day box"])
def test_a_date_only_submitted_event_shows_no_time(runtime: Runtime, path: str) -> None:
    first, last = days_ahead(40), days_ahead(41)
    if path == "form with the all-day box":  # the form's datetime-local inputs always carry a time
        when = {"starts_at": f"{first}T09:00", "ends_at": f"{last}T17:00", "all_day": "y"}
    else:
        when = {"starts_at": first.isoformat(), "ends_at": last.isoformat()}
    fields = valid("event", timezone="Europe/Brussels", **when)
    with running_site(runtime) as site:
        response = site.api(fields) if path == "api" else site.form(fields)
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        [item] = site.items()
    assert item.all_day
    assert item.starts_at == datetime.combine(first, datetime.min.time(), tzinfo=BRUSSELS)
    text = rendered(runtime, [item], today=datetime.now(UTC).date()).text
    assert f"When: {dates.day_range(first, last)}\n" in text
    assert "00:00" not in text


def lisbon_call(deadline: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Calls</title>'
        "<link>https://calls.example.pt/</link><description>d</description>"
        "<item><title>Open call for ocean tech pilots</title><link>https://calls.example.pt/ocean</link>"
        f"<description>Apply online. Deadline: {deadline}.</description></item></channel></rss>"
    ).encode()


def test_a_lisbon_deadline_shows_in_lisbon_time_with_the_sites_time_after(
    runtime: Runtime, feed_server: FeedServer
) -> None:
    add_source(
        runtime,
        "calls",
        feed_server.route("/calls.rss", body(lisbon_call("22 December 2026, 23:59 Lisbon time"))),
        "call",
    )
    collect(runtime, now=NOW, settings=FAST)
    [call] = items_of(runtime, "calls")
    assert call.deadline == datetime(2026, 12, 22, 23, 59, tzinfo=LISBON) and call.timezone == "Europe/Lisbon"
    assert not call.all_day

    email = rendered(runtime, [call])
    for part in (email.html, email.text):
        assert "Deadline: 22 Dec 2026, 23:59 Lisbon time (23 Dec, 00:59 CET)" in part
    assert "31 days left" in email.text  # from 21 Nov to 22 Dec, on Lisbon's calendar
    assert dates.when_line(call, NOW, "Europe/Brussels") == (
        "Deadline: 22/12/2026, 23:59 Lisbon time (23 Dec, 00:59 CET), 31 days left"
    )


def test_a_date_only_deadline_is_a_whole_day(runtime: Runtime, feed_server: FeedServer) -> None:
    add_source(runtime, "calls", feed_server.route("/calls.rss", body(lisbon_call("22/12/2026"))), "call")
    collect(runtime, now=NOW, settings=FAST)
    [call] = items_of(runtime, "calls")
    assert call.all_day and call.timezone is None
    assert "Deadline: 22 Dec 2026 (31 days left)" in rendered(runtime, [call]).text
    assert dates.when_line(call, NOW, "Europe/Brussels") == "Deadline: 22/12/2026 (31 days left)"


def test_a_submitted_call_keeps_its_time_zone(runtime: Runtime) -> None:
    day = days_ahead(30)
    with running_site(runtime) as site:
        assert site.api(valid("call", deadline=f"{day}T23:59", timezone="Europe/Lisbon")).status_code == 201
        [call] = site.items()
    assert call.timezone == "Europe/Lisbon"
    text = rendered(runtime, [call], today=datetime.now(UTC).date()).text
    there = datetime.combine(day, datetime.min.time().replace(hour=23, minute=59), tzinfo=LISBON).astimezone(BRUSSELS)
    assert (
        f"Deadline: {dates.day(day)}, 23:59 Lisbon time ({dates.day(there.date(), year=there.year != day.year)}, 00:59 "
        in text
    )


FAIR_START = datetime(2027, 1, 6, 23, tzinfo=UTC)  # 7 Jan, 00:00 in Brussels


@pytest.mark.parametrize(
    ("item", "line"),
    [
        (dict(kind="event", starts_at=FAIR_START, ends_at=datetime(2027, 1, 8, 22, 59, 59, tzinfo=UTC),
              timezone="Europe/Brussels", all_day=True), "7–8 Jan 2027"),
        (dict(kind="event", starts_at=FAIR_START, ends_at=datetime(2027, 1, 8, 23, tzinfo=UTC),
              timezone="Europe/Brussels", all_day=True), "7–8 Jan 2027"),  # iCalendar's exclusive end
        (dict(kind="event", starts_at=datetime(2026, 12, 8, 8, tzinfo=UTC), ends_at=datetime(2026, 12, 8, 16,
              tzinfo=UTC), timezone="Europe/Brussels"), "Tue 8 Dec 2026, 09:00–17:00 CET"),
        (dict(kind="call", deadline=datetime(2026, 12, 22, 16, tzinfo=UTC), timezone=None),
         "Deadline: 22/12/2026, 17:00 CET (31 days left)"),
        (dict(kind="call", deadline=datetime(2026, 11, 20, 16, tzinfo=UTC), timezone=None, all_day=True),
         "Deadline: 20/11/2026 (closed)"),
    ],
)  # fmt: skip
def test_when_line(item: dict, line: str) -> None:
    fields = {"starts_at": None, "ends_at": None, "deadline": None, "all_day": False, "published_at": None}
    assert dates.when_line(Item(**(fields | item)), NOW, "Europe/Brussels") == line


def test_an_editor_who_gives_an_all_day_event_a_time_makes_it_timed(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        fair = make_item(session, "Cluster fair", kind="event", starts_at=FAIR_START, ends_at=FAIR_START + timedelta(
            days=2, seconds=-1), timezone="Europe/Brussels", all_day=True)  # fmt: skip
        keep = {name: getattr(fair, name) for name in ("title", "summary", "kind", "url", "organisation", "country",
                                                      "location", "published_at", "ends_at", "deadline")}  # fmt: skip
        edit_item(session, SYSTEM, fair.id, ItemChanges(**keep, starts_at=FAIR_START + timedelta(days=1)))
        assert fair.all_day  # moved by a day: still whole days
        edit_item(session, SYSTEM, fair.id, ItemChanges(**keep, starts_at=FAIR_START + timedelta(days=1, hours=9)))
        assert not fair.all_day
        assert item_view(runtime.config, fair).all_day is False


def test_the_demo_call_closing_at_23_59_lisbon_time_is_headed_in_lisbon_time(runtime: Runtime) -> None:
    add_source(runtime, "ECCP Calls", "sample://calls.rss", "call")
    collect(runtime, settings=FAST)
    [mission] = [item for item in items_of(runtime, "ECCP Calls") if "São Paulo" in item.summary]
    assert mission.timezone == "Europe/Lisbon"  # the element's "+00:00" and the text's "23:59 Lisbon time"
    text = rendered(runtime, [mission], today=datetime.now(UTC).date()).text
    assert re.search(r"Deadline: \d{1,2} \w{3} \d{4}, 23:59 Lisbon time \(\d{1,2} \w{3}( \d{4})?, 00:59 CES?T\)", text)
