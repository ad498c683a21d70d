"""Calendar files of the archive's events (icalendar): one event, or every upcoming one.

Times are written in UTC (valid everywhere, no VTIMEZONE needed); an all-day event (``Item.all_day``, or
one stored before that flag from midnight to midnight in its own zone) gets plain dates
(``DTSTART;VALUE=DATE``), its DTEND the day after its last day, exclusive as RFC 5545 has it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from urllib.parse import urlsplit

from icalendar import Calendar, Event

from digest.models import Item
from digest.rendering import dates
from digest.rendering.text import html_paragraphs

PRODUCT_ID = "-//Cluster Digest//Archive//EN"


def calendar_file(events: Iterable[Item], base_url: str, site_name: str, site_timezone: str, title: str) -> bytes:
    """A VCALENDAR with one VEVENT per event (events without a start are left out)."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", title)
    calendar.add("x-wr-caldesc", f"Events published by {site_name}")
    for item in events:
        if item.starts_at is not None:
            calendar.add_component(event_component(item, base_url, site_timezone))
    return calendar.to_ical()


def event_component(item: Item, base_url: str, site_timezone: str) -> Event:
    event = Event()
    event.add("uid", f"event-{item.id}@{urlsplit(base_url).hostname or 'cluster-digest'}")
    event.add("dtstamp", item.updated_at)
    event.add("last-modified", item.updated_at)
    start, end = _span(item, dates.zone(item.timezone, site_timezone))
    event.add("dtstart", start)
    if end is not None:
        event.add("dtend", end)
    event.add("summary", item.title)
    if item.location:
        event.add("location", item.location)
    event.add("url", item.url or f"{base_url}/events/{item.id}.ics")
    event.add("description", _description(item))
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def _span(item: Item, zone: tzinfo) -> tuple[datetime | date, datetime | date | None]:
    assert item.starts_at is not None
    start = item.starts_at.astimezone(zone)
    end = item.ends_at.astimezone(zone) if item.ends_at is not None and item.ends_at >= item.starts_at else None
    if item.all_day or (_is_midnight(start) and (end is None or _is_midnight(end))):
        first, last = dates.all_day_span(item.starts_at, end, zone)
        return first, last + timedelta(days=1)  # DTEND of a date is exclusive
    return item.starts_at, item.ends_at if end is not None else None


def _is_midnight(moment: datetime) -> bool:
    return moment.hour == 0 and moment.minute == 0 and moment.second == 0


def _description(item: Item) -> str:
    parts = html_paragraphs(item.summary or "")
    origin = " · ".join(part for part in (item.organisation, item.country) if part)
    if origin:
        parts.append(f"Organiser: {origin}")
    if item.url:
        parts.append(f"Details: {item.url}")
    return "\n\n".join(parts)
