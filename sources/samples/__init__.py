"""Bundled demo feeds for Cluster Digest.

Four Jinja2 templates live next to this module and are rendered on demand
with every date expressed relative to a given ``today``, so the demo
content never goes stale:

* ``news.rss``          – RSS 2.0 news feed ("ECCP News")
* ``achievements.atom`` – Atom 1.0 feed of cluster achievements
* ``calls.rss``         – RSS 2.0 feed of open calls, each with a
  ``<digest:deadline>`` element (namespace ``https://clusterdigest.eu/ns/1.0``)
* ``events.ics``        – iCalendar feed of events

Rendering is deterministic: the same ``today`` always gives the same bytes.

The templates receive these callables (``days`` is an integer offset from
``today``, ``hhmm`` a ``"HH:MM"`` string):

``rfc822(days, hhmm)``        RFC 822 date in UTC, for RSS ``pubDate``
``rfc3339(days, hhmm, tz)``   ISO 8601 / RFC 3339 datetime with offset; ``tz`` is
                              an optional IANA zone name (default UTC)
``ics_local(days, hhmm)``     ``YYYYMMDDTHHMMSS`` floating/local time (use with TZID)
``ics_date(days)``            ``YYYYMMDD``
``ics_utc(days, hhmm)``       ``YYYYMMDDTHHMMSSZ``
``dmy(days)``                 ``DD/MM/YYYY``
``long_date(days)``           ``30 November 2026``
``workday(days, span=1)``     first offset >= ``days`` whose ``span`` days are all
                              working days (no weekend, no fixed EU holiday)
``eventday(days, span=1)``    like ``workday`` but also outside 20 Dec - 6 Jan
``year(days)``                the year of today + days

and the filter ``ics_text`` (collapse whitespace, escape for iCalendar TEXT).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

__all__ = [
    "SAMPLE_NAMES",
    "UnknownSampleError",
    "render_sample",
    "sample_content_type",
]

SAMPLE_NAMES: tuple[str, ...] = ("news.rss", "achievements.atom", "calls.rss", "events.ics")

_CONTENT_TYPES: dict[str, str] = {
    "news.rss": "application/rss+xml",
    "achievements.atom": "application/atom+xml",
    "calls.rss": "application/rss+xml",
    "events.ics": "text/calendar",
}

_TEMPLATE_DIR = Path(__file__).resolve().parent

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_ICS_MAX_OCTETS = 75


class UnknownSampleError(ValueError, KeyError):
    """Raised for a sample feed name that is not in :data:`SAMPLE_NAMES`.

    It is a :class:`ValueError` and, for dict-like callers, a :class:`KeyError`.
    """

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def _check_name(name: str) -> str:
    if name not in _CONTENT_TYPES:
        raise UnknownSampleError(f"unknown sample feed: {name!r} (expected one of {', '.join(SAMPLE_NAMES)})")
    return name


def sample_content_type(name: str) -> str:
    """MIME type of the sample feed ``name`` (without charset parameter)."""
    return _CONTENT_TYPES[_check_name(name)]


# --------------------------------------------------------------------------- helpers


def _parse_hhmm(hhmm: str) -> _dt.time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", hhmm)
    if not match:
        raise ValueError(f"expected 'HH:MM', got {hhmm!r}")
    return _dt.time(int(match.group(1)), int(match.group(2)))


# Fixed-date holidays observed by the EU institutions (month, day).
_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 9), (12, 25), (12, 26)})


def _is_closed(d: _dt.date) -> bool:
    return d.weekday() >= 5 or (d.month, d.day) in _HOLIDAYS


def _in_year_end_break(d: _dt.date) -> bool:
    return (d.month == 12 and d.day >= 20) or (d.month == 1 and d.day <= 6)


def _make_helpers(today: _dt.date) -> dict[str, object]:
    def day(days: int) -> _dt.date:
        return today + _dt.timedelta(days=int(days))

    def at(days: int, hhmm: str, tz: _dt.tzinfo = _dt.UTC) -> _dt.datetime:
        return _dt.datetime.combine(day(days), _parse_hhmm(hhmm), tzinfo=tz)

    def rfc822(days: int, hhmm: str = "00:00") -> str:
        return format_datetime(at(days, hhmm), usegmt=True)

    def rfc3339(days: int, hhmm: str = "00:00", tz: str | None = None) -> str:
        zone = ZoneInfo(tz) if tz else _dt.UTC
        return at(days, hhmm, zone).isoformat(timespec="seconds")

    def ics_local(days: int, hhmm: str = "00:00") -> str:
        return _dt.datetime.combine(day(days), _parse_hhmm(hhmm)).strftime("%Y%m%dT%H%M%S")

    def ics_date(days: int) -> str:
        return day(days).strftime("%Y%m%d")

    def ics_utc(days: int, hhmm: str = "00:00") -> str:
        return at(days, hhmm).strftime("%Y%m%dT%H%M%SZ")

    def dmy(days: int) -> str:
        return day(days).strftime("%d/%m/%Y")

    def long_date(days: int) -> str:
        d = day(days)
        return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"

    def _shift(days: int, span: int, closed: Callable[[_dt.date], bool]) -> int:
        offset = int(days)
        while any(closed(day(offset + i)) for i in range(max(1, int(span)))):
            offset += 1
        return offset

    def workday(days: int, span: int = 1) -> int:
        """First offset >= days such that `span` consecutive days avoid weekends and public holidays."""
        return _shift(days, span, _is_closed)

    def eventday(days: int, span: int = 1) -> int:
        """Like workday() but also avoids the year-end break (20 December - 6 January)."""
        return _shift(days, span, lambda d: _is_closed(d) or _in_year_end_break(d))

    def year(days: int = 0) -> int:
        return day(days).year

    return {
        "today": today,
        "rfc822": rfc822,
        "rfc3339": rfc3339,
        "ics_local": ics_local,
        "ics_date": ics_date,
        "ics_utc": ics_utc,
        "dmy": dmy,
        "long_date": long_date,
        "workday": workday,
        "eventday": eventday,
        "year": year,
    }


def _ics_text(value: object) -> str:
    """Collapse whitespace and escape a value for an iCalendar TEXT property."""
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATE_DIR)),
        autoescape=False,  # XML/ICS templates escape their own content
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ics_text"] = _ics_text
    return env


def _fold_ics_line(line: str) -> list[str]:
    """Fold one content line so that no physical line exceeds 75 octets (RFC 5545 §3.1)."""
    if len(line.encode("utf-8")) <= _ICS_MAX_OCTETS:
        return [line]
    parts: list[str] = []
    current = ""
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > _ICS_MAX_OCTETS:
            parts.append(current)
            current, size = " ", 1  # continuation lines start with one space
        current += char
        size += width
    parts.append(current)
    return parts


def _finish_ics(text: str) -> str:
    """Drop blank lines, fold long lines and use CRLF line endings."""
    out: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if not line.strip():
            continue
        out.extend(_fold_ics_line(line))
    return "\r\n".join(out) + "\r\n"


def render_sample(name: str, today: _dt.date) -> bytes:
    """Render the bundled sample feed ``name`` with dates relative to ``today``.

    Returns UTF-8 bytes. Raises :class:`UnknownSampleError` (a ``ValueError``)
    for names not in :data:`SAMPLE_NAMES`.
    """
    _check_name(name)
    if isinstance(today, _dt.datetime):
        today = today.date()
    if not isinstance(today, _dt.date):
        raise TypeError(f"today must be a datetime.date, got {type(today).__name__}")
    template = _environment().get_template(f"{name}.j2")
    text = template.render(**_make_helpers(today))
    if name.endswith(".ics"):
        text = _finish_ics(text)
    return text.encode("utf-8")
