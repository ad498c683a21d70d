"""How the archive shows the days editions went out: in the site's time zone (digest.rendering.dates words them)."""

from __future__ import annotations

from datetime import datetime

from digest.rendering import dates


def _day(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(dates.zone(timezone))


def long_day(moment: datetime, timezone: str) -> str:
    """'Friday 20 November 2026'."""
    return dates.long_day(_day(moment, timezone).date())


def short_day(moment: datetime, timezone: str) -> str:
    """'20 Nov 2026'."""
    return dates.day(_day(moment, timezone).date())


def day_in_month(moment: datetime, timezone: str) -> str:
    """'Fri 20 Nov' (the year and month are given by the heading above it)."""
    return dates.day(_day(moment, timezone).date(), weekday=True, year=False)


def month_name(month: int) -> str:
    return dates.MONTHS_LONG[month - 1]


def local(moment: datetime, timezone: str) -> datetime:
    return _day(moment, timezone)
