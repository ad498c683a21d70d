"""Every date and time a reader or an editor sees, said the way the source meant it.

- An all-day event (iCalendar ``VALUE=DATE``, a date-only submission) shows its days only:
  "Thu 7 Jan 2027", "7–8 Jan 2027". Its stored end is any moment of its last day, or the midnight
  after it (iCalendar's exclusive DTEND): both read as that last day.
- A timed event or deadline shows in its own zone; when the site's clock reads differently at that
  moment the site's time follows in brackets: "22 Dec 2026, 23:59 Lisbon time (23 Dec, 00:59 CET)".
- A moment of our own (an audit line, a schedule) shows in the site's zone with its abbreviation.

Every function that words a date for readers takes ``lang`` (a shipped language, digest.rendering.i18n).
English keeps the house style written out below (the seeds' "Thu 7 Jan 2027"); the other languages
take their day and month names and their order from CLDR through ``babel.dates`` ("jeu. 7 janv. 2027",
"Do., 7. Jan. 2027"), and their words ("Deadline", "days left") from the gettext catalogs. Clock
times are 24-hour everywhere and zone abbreviations ("CET") stay as they are.

Pure functions over plain values; ``when_line`` takes anything shaped like an item (``Item``, ``ItemView``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_interval, format_skeleton, get_timezone_location

from digest.rendering.i18n import translations

ENGLISH = "en"  # the house style below; other languages go through CLDR

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS_LONG = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAYS_LONG = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Dated(Protocol):
    """What ``when_line`` reads of an item."""

    kind: str
    starts_at: datetime | None
    ends_at: datetime | None
    deadline: datetime | None
    timezone: str | None
    all_day: bool
    published_at: datetime | None


# --------------------------------------------------------------------------- zones


def zone(name: str | None, fallback: tzinfo | str = UTC) -> tzinfo:
    """The IANA zone of that name; a missing or bogus one (a feed's odd TZID) gives ``fallback``."""
    if isinstance(fallback, str):
        fallback = zone(fallback)
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def abbreviation(moment: datetime) -> str:
    """ "CET", "CEST", "UTC", or "UTC+3" for zones without a letter abbreviation."""
    name = moment.tzname() or ""
    if name and name[0] not in "+-" and name != "UTC":
        return name
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return "UTC" if minutes == 0 else f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _place_label(moment: datetime, lang: str = ENGLISH) -> str:
    """A zone as people name it: "Lisbon time" (from the IANA name), else its abbreviation."""
    key = getattr(moment.tzinfo, "key", "") or ""
    if "/" in key and not key.startswith("Etc/"):
        city = key.rsplit("/", 1)[1].replace("_", " ")
        if lang != ENGLISH:
            city = get_timezone_location(key, locale=lang, return_city=True) or city
        return translations(lang).gettext("%(city)s time") % {"city": city}
    return abbreviation(moment)


def _same_clock(moment: datetime, other: tzinfo) -> bool:
    return moment.utcoffset() == moment.astimezone(other).utcoffset()


# --------------------------------------------------------------------------- pieces


def day(value: date, *, weekday: bool = False, year: bool = True, lang: str = ENGLISH) -> str:
    """ "7 Jan 2027", "Thu 7 Jan 2027", "7 Jan"."""
    if lang != ENGLISH:
        return format_skeleton(("y" if year else "") + "MMM" + ("E" if weekday else "") + "d", value, locale=lang)
    text = f"{value.day} {MONTHS[value.month - 1]}" + (f" {value.year}" if year else "")
    return f"{WEEKDAYS[value.weekday()]} {text}" if weekday else text


def long_day(value: date, lang: str = ENGLISH) -> str:
    """ "Thursday 7 January 2027"."""
    if lang != ENGLISH:
        return format_date(value, "full", locale=lang)
    return f"{WEEKDAYS_LONG[value.weekday()]} {value.day} {MONTHS_LONG[value.month - 1]} {value.year}"


def numeric_day(value: date, lang: str = ENGLISH) -> str:
    """ "22/12/2026", as the seed newsletters write deadlines."""
    if lang != ENGLISH:
        return format_skeleton("yMMdd", value, locale=lang)
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def clock(moment: datetime) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def day_range(first: date, last: date, lang: str = ENGLISH) -> str:
    """ "8–10 Dec 2026", "30 Nov – 2 Dec 2026", "30 Dec 2026 – 2 Jan 2027"; one day: "Tue 8 Dec 2026"."""
    if last <= first:
        return day(first, weekday=True, lang=lang)
    if lang != ENGLISH:
        return format_interval(first, last, "yMMMd", locale=lang)
    if first.year != last.year:
        return f"{day(first)} – {day(last)}"
    if first.month != last.month:
        return f"{day(first, year=False)} – {day(last)}"
    return f"{first.day}–{day(last)}"


def local_moment(moment: datetime | None, site_zone: str | tzinfo) -> str:
    """A moment of our own in the site's zone, with the zone: "5 Jan 2020, 09:00 CET"; None: "—"."""
    if moment is None:
        return "—"
    local = aware(moment).astimezone(zone(site_zone) if isinstance(site_zone, str) else site_zone)
    return f"{day(local.date())}, {clock(local)} {abbreviation(local)}"


def local_text(value: object, site_zone: str | tzinfo) -> object:
    """An ISO 8601 time with its offset (as audit lines store them) in the site's zone; anything else as it is."""
    if not isinstance(value, str) or len(value) < 19 or value[10:11] != "T":
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return local_moment(moment, site_zone) if moment.tzinfo is not None else value


# --------------------------------------------------------------------------- events


def all_day_span(starts_at: datetime, ends_at: datetime | None, own_zone: tzinfo) -> tuple[date, date]:
    """The first and last day of an all-day event (its stored end may be the exclusive midnight after)."""
    first = aware(starts_at).astimezone(own_zone).date()
    if ends_at is None:
        return first, first
    last = (aware(ends_at).astimezone(own_zone) - timedelta(seconds=1)).date()
    return first, max(first, last)


def _midnight(moment: datetime) -> bool:
    return (moment.hour, moment.minute) == (0, 0)


def event_when(
    starts_at: datetime,
    ends_at: datetime | None,
    own_zone: tzinfo,
    site_zone: tzinfo | None = None,
    *,
    all_day: bool = False,
    lang: str = ENGLISH,
) -> str:
    """When an event happens, in its own zone, the site's clock after it when that reads differently:
    "Thu 7 Jan 2027", "7–8 Jan 2027", "Tue 8 Dec 2026, 09:00–17:00 CET",
    "Tue 8 Dec 2026, 08:00–17:00 Lisbon time (09:00–18:00 CET)", "7–8 Jan 2027, from 09:00 CET"."""
    start = aware(starts_at).astimezone(own_zone)
    end = aware(ends_at).astimezone(own_zone) if ends_at is not None else None
    if end is not None and end < start:
        end = None
    # Stored before the all-day flag: an event starting and ending at midnight was all-day too.
    if all_day or (_midnight(start) and (end is None or _midnight(end))):
        return day_range(*all_day_span(starts_at, ends_at, own_zone), lang=lang)
    site = site_zone if site_zone is not None and not _same_clock(start, site_zone) else None
    if end is None:
        return f"{day(start.date(), weekday=True, lang=lang)}, {_times(start, None, site, lang)}"
    last_day = end.date() if not _midnight(end) else (end - timedelta(minutes=1)).date()
    if last_day == start.date():
        return f"{day(start.date(), weekday=True, lang=lang)}, {_times(start, end, site, lang)}"
    days = day_range(start.date(), last_day, lang)
    from_time = _times(start, None, site, lang)
    return translations(lang).gettext("%(days)s, from %(time)s") % {"days": days, "time": from_time}


def _times(start: datetime, end: datetime | None, site: tzinfo | None, lang: str = ENGLISH) -> str:
    """ "09:00–17:00 CET", "01:00 CET – 05:00 CEST", "08:00 Lisbon time (09:00 CET)"."""

    def label(moment: datetime) -> str:
        return _place_label(moment, lang) if site is not None else abbreviation(moment)

    if end is None:
        text = f"{clock(start)} {label(start)}"
    elif abbreviation(start) == abbreviation(end):
        text = f"{clock(start)}–{clock(end)} {label(end)}"
    else:
        text = f"{clock(start)} {label(start)} – {clock(end)} {label(end)}"
    if site is None:
        return text
    return f"{text} ({_times(start.astimezone(site), end.astimezone(site) if end else None, None, lang)})"


# --------------------------------------------------------------------------- deadlines


def _end_of_day(moment: datetime) -> bool:
    return _midnight(moment) or (moment.hour, moment.minute) == (23, 59)


def deadline_label(
    deadline: datetime,
    own_zone: tzinfo,
    site_zone: tzinfo | None = None,
    *,
    whole_day: bool = False,
    lang: str = ENGLISH,
) -> str:
    """The deadline's day in its own zone, with the hour when it matters:
    "22 Dec 2026" (a date, or the end of that day), "15 Dec 2026, 17:00 CET",
    "22 Dec 2026, 23:59 Lisbon time (23 Dec, 00:59 CET)"."""
    local = aware(deadline).astimezone(own_zone)
    text = day(local.date(), lang=lang)
    if whole_day:
        return text
    if site_zone is None or _same_clock(local, site_zone):
        return text if _end_of_day(local) else f"{text}, {clock(local)} {abbreviation(local)}"
    there = local.astimezone(site_zone)
    other_day = day(there.date(), year=there.year != local.year, lang=lang)
    site_day = "" if there.date() == local.date() else f"{other_day}, "
    return f"{text}, {clock(local)} {_place_label(local, lang)} ({site_day}{clock(there)} {abbreviation(there)})"


def days_left(deadline: datetime, own_zone: tzinfo, now: datetime) -> int:
    """Whole days from today to the deadline's day, both read on the deadline's own clock."""
    return (aware(deadline).astimezone(own_zone).date() - aware(now).astimezone(own_zone).date()).days


def deadline_status(days: int, lang: str = ENGLISH) -> str:
    words = translations(lang)
    if days < 0:
        return words.gettext("Closed")
    if days == 0:
        return words.gettext("Closes today")
    return words.ngettext("%(num)d day left", "%(num)d days left", days) % {"num": days}


def _deadline_hour(local: datetime, site: tzinfo, whole_day: bool, lang: str) -> str:
    """What ``deadline_label`` says after the day ("23:59 Lisbon time (23 Dec, 00:59 CET)"), or ""."""
    day_only = deadline_label(local, local.tzinfo or UTC, site, whole_day=True, lang=lang)
    full = deadline_label(local, local.tzinfo or UTC, site, whole_day=whole_day, lang=lang)
    return full[len(day_only) :].removeprefix(", ")


# --------------------------------------------------------------------------- one line per item


def item_dates(item: Dated, site_zone: str, lang: str = ENGLISH) -> str | None:
    """An event's dates ("7–8 Jan 2027") or a call's deadline ("Deadline: 22 Dec 2026, 17:00 CET") in full;
    None for other items."""
    site = zone(site_zone)
    own = zone(item.timezone, site)
    if item.kind == "event" and item.starts_at is not None:
        return event_when(item.starts_at, item.ends_at, own, site, all_day=bool(item.all_day), lang=lang)
    if item.deadline is not None:
        label = deadline_label(item.deadline, own, site, whole_day=bool(item.all_day), lang=lang)
        return translations(lang).gettext("Deadline: %(date)s") % {"date": label}
    return None


def when_line(item: Dated, now: datetime, site_zone: str, lang: str = ENGLISH) -> str | None:
    """The compact line of a list row: "7–8 Jan 2027", "Tue 8 Dec 2026, 09:00–17:00 CET",
    "Deadline: 22/12/2026 (21 days left)", "Deadline: 22/12/2026, 23:59 Lisbon time (23 Dec, 00:59 CET), 3 days left";
    news and achievements: their publication day. None when the item has no date to show."""
    site = zone(site_zone)
    own = zone(item.timezone, site)
    if item.kind == "event" and item.starts_at is not None:
        return event_when(item.starts_at, item.ends_at, own, site, all_day=bool(item.all_day), lang=lang)
    if item.deadline is not None:
        local = aware(item.deadline).astimezone(own)
        hour = _deadline_hour(local, site, bool(item.all_day), lang)
        status = deadline_status(days_left(item.deadline, own, now), lang)
        status = status[:1].lower() + status[1:]  # "3 days left", "noch 3 Tage"
        text = translations(lang).gettext("Deadline: %(date)s") % {"date": numeric_day(local.date(), lang)}
        text += f", {hour}" if hour else ""
        return f"{text}, {status}" if text.endswith(")") else f"{text} ({status})"  # never two brackets in a row
    if item.published_at is not None:
        return day(aware(item.published_at).astimezone(site).date(), lang=lang)
    return None
