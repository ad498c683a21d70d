"""How the archive shows moments: in the site's time zone, spelled out in English."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


def long_day(moment: datetime, timezone: str) -> str:
    """'Friday 20 November 2026'."""
    day = local(moment, timezone)
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def short_day(moment: datetime, timezone: str) -> str:
    """'20 Nov 2026'."""
    day = local(moment, timezone)
    return f"{day.day} {MONTHS[day.month - 1][:3]} {day.year}"


def day_in_month(moment: datetime, timezone: str) -> str:
    """'Fri 20 Nov' (the year and month are given by the heading above it)."""
    day = local(moment, timezone)
    return f"{WEEKDAYS[day.weekday()][:3]} {day.day} {MONTHS[day.month - 1][:3]}"


def month_name(month: int) -> str:
    return MONTHS[month - 1]


def _time(moment: datetime) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def _zone_label(moment: datetime) -> str:
    name = moment.tzname() or ""
    return name if name and name[0] not in "+-" else "UTC" + (name if name not in ("+00", "-00") else "")


def event_span(starts_at: datetime, ends_at: datetime | None, timezone: str) -> str:
    """When an event happens, in its own zone: 'Tue 1 Dec 2026, 09:00–17:00 CET', '1–3 Dec 2026'."""
    start = local(starts_at, timezone)
    end = local(ends_at, timezone) if ends_at is not None and ends_at >= starts_at else None
    start_day = f"{WEEKDAYS[start.weekday()][:3]} {short_day(start, timezone)}"
    all_day = (start.hour, start.minute) == (0, 0) and (end is None or (end.hour, end.minute) == (0, 0))
    if end is None:
        return start_day if all_day else f"{start_day}, {_time(start)} {_zone_label(start)}"
    if end.date() == start.date():
        return f"{start_day}, {_time(start)}–{_time(end)} {_zone_label(end)}"
    if all_day:
        end = end - timedelta(days=1)  # an all-day end at midnight is exclusive
        if end.date() <= start.date():
            return start_day
    text = f"{short_day(start, timezone)} – {short_day(end, timezone)}"
    return text if all_day else f"{text}, from {_time(start)} {_zone_label(start)}"
