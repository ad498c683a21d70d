"""iCalendar (.ics) via icalendar: events with start, end, time zone and location; recurrences
expanded within a window (recurring-ical-events), one Entry per occurrence with a stable guid."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events

from sources.entry import Entry, ParsedFeed, ParseError
from sources.normalise import clean_text, text_as_html, to_utc

HIDDEN_CLASSES = ("PRIVATE", "CONFIDENTIAL")
MAX_OCCURRENCES = 366  # per recurring series and collection: a daily event for a year
SUB_DAILY = {"SECONDLY", "MINUTELY", "HOURLY"}


def looks_like_calendar(body: bytes, headers: dict[str, str]) -> bool:
    content_type = headers.get("content-type", "").lower()
    head = body[:256].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    return "text/calendar" in content_type or head.startswith(b"BEGIN:VCALENDAR")


def parse_calendar(
    body: bytes,
    *,
    now: datetime,
    default_zone: str,
    future_days: int,
    past_days: int,
    max_occurrences: int = 1000,
) -> ParsedFeed:
    """Events that end after `now - past_days`; recurring ones only up to `now + future_days`, and
    at most `max_occurrences` occurrences of all recurring series together (the soonest)."""
    if not body.strip():
        raise ParseError("empty response: the server sent no content")
    try:
        calendar = icalendar.Calendar.from_ical(body)
    except (ValueError, IndexError, KeyError) as error:
        raise ParseError(f"not a valid iCalendar file: {clean_text(str(error))[:200]}") from None
    if isinstance(calendar, list):
        calendar = calendar[0]
    zone = _zone(str(calendar.get("X-WR-TIMEZONE", "")) or default_zone) or UTC
    window_start, window_end = now - timedelta(days=past_days), now + timedelta(days=future_days)
    events = list(calendar.walk("VEVENT"))
    series = {str(event.get("UID")) for event in events if _is_recurring(event)}
    warnings: list[str] = []
    entries = [
        entry
        for event in events
        if not _is_recurring(event) and str(event.get("UID")) not in series
        for entry in [_entry(event, zone, recurring=False)]
        if entry is not None and _ends_after(entry, window_start)
    ]
    if series:
        entries.extend(_occurrences(calendar, series, zone, window_start, window_end, warnings, max_occurrences))
    url = calendar.get("URL") or calendar.get("X-ORIGINAL-URL")
    return ParsedFeed(entries, warnings, str(url) if url else None)


def _is_recurring(event: Any) -> bool:
    return any(name in event for name in ("RRULE", "RDATE", "RECURRENCE-ID"))


def _occurrences(
    calendar: Any, series: set[str], zone: tzinfo, start: datetime, end: datetime, warnings: list[str], budget: int
) -> list[Entry]:
    """Each series is expanded on its own and lazily, so one rule firing every second cannot
    flood the run (it stops at MAX_OCCURRENCES) nor hide the other series; all series together
    stop at `budget` occurrences, the soonest first, so thousands of series cannot flood it either."""
    streams = []
    for uid, sub_calendar in _series_calendars(calendar, series).items():
        streams.append(_series_occurrences(uid, sub_calendar, zone, start, end, warnings))
    entries = []
    for expanded, (_, entry) in enumerate(heapq.merge(*streams, key=lambda pair: pair[0])):
        if expanded == budget:
            warnings.append(
                f"recurring events: expansion stopped at {budget} occurrences, the soonest kept "
                f"(collect.max_items_per_source); later ones of {len(streams)} series left out"
            )
            break
        if entry is not None:
            entries.append(entry)
    return entries


def _series_occurrences(
    uid: str, calendar: Any, zone: tzinfo, start: datetime, end: datetime, warnings: list[str]
) -> Iterator[tuple[datetime, Entry | None]]:
    """(start, entry) for each occurrence of one series in the window, in time order; None for a hidden one."""
    try:
        if _too_frequent(calendar):
            warnings.append(f"recurring event {uid[:100]} repeats more often than daily: left out")
            return
        occurrences = recurring_ical_events.of(calendar, keep_recurrence_attributes=True).after(start)
        for taken, occurrence in enumerate(occurrences):
            occurrence_start = _instant(occurrence["DTSTART"].dt, zone)[0]
            if occurrence_start is None or occurrence_start > end:
                return
            if taken == MAX_OCCURRENCES:
                warnings.append(f"recurring event {uid[:100]}: only its first {MAX_OCCURRENCES} occurrences kept")
                return
            yield occurrence_start, _entry(occurrence, zone, recurring=True)
    except Exception as error:  # the library raises many kinds on broken rules; the rest is still usable
        warnings.append(f"recurring event {uid[:100]} could not be expanded: {clean_text(str(error))[:200]}")


def _too_frequent(calendar: Any) -> bool:
    # Expanding a rule that fires every second or minute costs minutes of CPU before it yields
    # anything; no digest announces such events.
    for event in calendar.walk("VEVENT"):
        rules = event.get("RRULE")
        for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
            if set(rule.get("FREQ", [])) & SUB_DAILY:
                return True
    return False


def _series_calendars(calendar: Any, series: set[str]) -> dict[str, Any]:
    """A small calendar per recurring series: its components plus the calendar's time zones."""
    timezones = list(calendar.walk("VTIMEZONE"))
    calendars: dict[str, Any] = {}
    for event in calendar.walk("VEVENT"):
        uid = str(event.get("UID"))
        if uid not in series:
            continue
        if uid not in calendars:
            calendars[uid] = icalendar.Calendar()
            for timezone in timezones:
                calendars[uid].add_component(timezone)
        calendars[uid].add_component(event)
    return calendars


def _entry(event: Any, zone: tzinfo, *, recurring: bool) -> Entry | None:
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if str(event.get("CLASS", "")).upper() in HIDDEN_CLASSES:
        return None
    start_prop = event.get("DTSTART")
    if start_prop is None:
        return None
    start_value = start_prop.dt
    starts_at, event_zone = _instant(start_value, zone)
    ends_at = _end(event, start_value, zone)
    uid = clean_text(str(event.get("UID", ""))) or None
    guid = uid
    if uid and recurring:
        original = event.get("RECURRENCE-ID")
        guid = f"{uid}#{_stamp(original.dt if original is not None else start_value)}"
    return Entry(
        guid=guid,
        link=str(event.get("URL")) if event.get("URL") else None,
        title=str(event.get("SUMMARY", "")),
        summary_html=text_as_html(str(event.get("DESCRIPTION", ""))),
        # DTSTAMP is when the file was written out (often: on every request), not a publication date.
        published=_optional_instant(event.get("CREATED")) or _optional_instant(event.get("LAST-MODIFIED")),
        updated=_optional_instant(event.get("LAST-MODIFIED")),
        categories=[(term, None) for term in _categories(event)],
        organisation=_organiser(event),
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=event_zone,
        location=clean_text(str(event.get("LOCATION", ""))) or None,
        is_event=True,
        all_day=not isinstance(start_value, datetime),
    )


def _organiser(event: Any) -> str | None:
    organiser = event.get("ORGANIZER")
    if organiser is None:
        return None
    return clean_text(str(organiser.params.get("CN", ""))) or None


def _ends_after(entry: Entry, moment: datetime) -> bool:
    end = entry.ends_at or entry.starts_at
    return end is None or end >= moment


def _instant(value: date | datetime, zone: tzinfo) -> tuple[datetime | None, str | None]:
    """UTC instant plus the IANA name of the zone it was written in (floating and all-day: the calendar's)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return to_utc(value.replace(tzinfo=zone)), _zone_name(zone)
        return to_utc(value), _zone_name(value.tzinfo)
    return to_utc(datetime.combine(value, time(0, 0), tzinfo=zone)), _zone_name(zone)


def _end(event: Any, start: date | datetime, zone: tzinfo) -> datetime | None:
    end_prop = event.get("DTEND")
    end: date | datetime | None = end_prop.dt if end_prop is not None else None
    if end is None and event.get("DURATION") is not None:
        end = start + event["DURATION"].dt
    if end is None:
        end = start + timedelta(days=1) if not isinstance(start, datetime) else None
    if end is None:
        return None
    if not isinstance(end, datetime):
        # An all-day DTEND is exclusive: the event ends at the last second of the day before.
        last = datetime.combine(end, time(0, 0), tzinfo=zone) - timedelta(seconds=1)
        return to_utc(last)
    return _instant(end, zone)[0]


def _optional_instant(prop: Any) -> datetime | None:
    if prop is None:
        return None
    return _instant(prop.dt, UTC)[0]


def _stamp(value: date | datetime) -> str:
    if isinstance(value, datetime):
        instant = to_utc(value) if value.tzinfo else value
        return instant.strftime("%Y%m%dT%H%M%S") + ("Z" if value.tzinfo else "")
    return value.strftime("%Y%m%d")


def _categories(event: Any) -> list[str]:
    props = event.get("CATEGORIES")
    if props is None:
        return []
    terms = []
    for prop in props if isinstance(props, list) else [props]:
        for term in getattr(prop, "cats", []) or []:
            text = clean_text(str(term))
            if text:
                terms.append(text)
    return terms


def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name.strip()) if name.strip() else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _zone_name(zone: tzinfo | None) -> str | None:
    if zone is None:
        return None
    key = getattr(zone, "key", None) or getattr(zone, "zone", None)
    if key:
        return str(key)
    return "UTC" if zone is UTC or zone.utcoffset(None) == timedelta(0) else None
