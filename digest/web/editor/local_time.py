"""Times as editors type and read them: local to the site's time zone, stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.errors import DigestError

INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


class TimeInputError(DigestError):
    """A date and time an editor typed that cannot be used."""


def parse_local(value: str, timezone: str, field: str = "time") -> datetime:
    """An aware UTC datetime from "2026-11-30T09:00" read in the site's time zone."""
    text = (value or "").strip()
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise TimeInputError(f"the {field} {text!r} is not a date and time such as 2026-11-30 09:00") from None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    zone = ZoneInfo(timezone)
    local = naive.replace(tzinfo=zone)
    back = local.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != naive:  # a time skipped when clocks go forward
        raise TimeInputError(f"{naive:%d %b %Y %H:%M} does not exist in {timezone} (the clocks go forward then)")
    return local.astimezone(UTC)


def parse_optional(value: str | None, timezone: str, field: str) -> datetime | None:
    return parse_local(value, timezone, field) if (value or "").strip() else None


def input_value(moment: datetime | None, timezone: str) -> str:
    """The value of a datetime-local input showing this moment in the site's time zone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime(INPUT_FORMAT) if moment else ""


def default_send_time(timezone: str, now: datetime | None = None) -> datetime:
    """What the schedule form offers first: tomorrow at 09:00, local time."""
    zone = ZoneInfo(timezone)
    tomorrow = (now or datetime.now(UTC)).astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(9, 0), tzinfo=zone).astimezone(UTC)
