"""Kind detection for `auto` sources, and deadline extraction for open calls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from dateutil import parser as date_parser

KIND_WORDS: dict[str, tuple[str, ...]] = {
    "call": (
        "open call", "call for proposals", "call for applications", "call for participants",
        "call for expression of interest", "call for tenders", "call for papers", "calls", "call",
        "tender", "tenders", "funding opportunity", "funding opportunities", "grant", "grants",
        "voucher", "vouchers", "apply now", "applications open", "expression of interest",
    ),
    "event": (
        "event", "events", "conference", "webinar", "webinars", "workshop", "seminar", "summit",
        "forum", "trade fair", "fair", "expo", "exhibition", "meetup", "meet-up", "info day", "infoday",
        "matchmaking", "b2b meetings", "hackathon", "congress", "symposium", "bootcamp", "roundtable",
        "cluster meeting", "networking event", "save the date",
    ),
    "achievement": (
        "achievement", "achievements", "award", "awards", "awarded", "wins", "won", "winner",
        "success story", "success stories", "gold label", "silver label", "bronze label", "label",
        "milestone", "prize", "certified", "certification", "record", "ranked",
    ),
}  # fmt: skip
_KIND_PATTERNS = {
    kind: re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\b", re.IGNORECASE)
    for kind, words in KIND_WORDS.items()
}

_DEADLINE_LEAD = (
    r"(?:submission\s+)?deadlines?(?:\s+for\s+(?:applications|submissions|proposals))?"
    r"|closing\s+date|closes(?:\s+on)?|apply\s+(?:by|before|until)|applications?\s+(?:close|until|by)"
    r"|open\s+until|due\s+(?:date|by)"
)
_DATE = (
    r"(?P<date>\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
    r"|\d{1,2}(?:st|nd|rd|th)?(?:\s+of)?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}"
    r"|[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})"
)
_TIME = (
    r"(?:[\s,]*(?:at|before|by|\((?:[\w\s]{1,15},)?)?\s*(?P<time>\d{1,2}[:.h]\d{2})(?:\s*(?:hrs?|h))?"
    r"\s*(?P<zone>[A-Za-z]+(?:\s+time)?)?)?"
)
DEADLINE_PATTERN = re.compile(
    rf"\b(?:{_DEADLINE_LEAD})\b\s*(?:is|:|-|–|—)?\s*(?:on\s+)?{_DATE}{_TIME}", re.IGNORECASE
)
ZONE_ABBREVIATIONS = {
    "utc": "UTC", "gmt": "UTC", "z": "UTC",
    "cet": "Europe/Brussels", "cest": "Europe/Brussels", "brussels": "Europe/Brussels",
    "wet": "Europe/Lisbon", "west": "Europe/Lisbon", "eet": "Europe/Athens", "eest": "Europe/Athens",
}  # fmt: skip


def detect_kind(categories: list[str], title: str, *, has_deadline: bool = False, is_event: bool = False) -> str:
    """news, event, call or achievement: structure first, then categories, then the title's words."""
    if is_event:
        return "event"
    if has_deadline:
        return "call"
    for category in categories:
        kind = _earliest_kind(category)
        if kind:
            return kind
    return _earliest_kind(title) or "news"


def _earliest_kind(text: str) -> str | None:
    """The kind whose word appears first: "Call for participants: matchmaking event" is a call."""
    best: tuple[int, str] | None = None
    for kind, pattern in _KIND_PATTERNS.items():
        match = pattern.search(text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), kind)
    return best[1] if best else None


@dataclass(frozen=True)
class Deadline:
    """A deadline as its source gave it."""

    moment: datetime  # aware UTC; a whole day's last second
    zone: str | None = None  # the zone the source named ("17:00 Lisbon time"), None when it named none
    whole_day: bool = False  # the source gave a date without a time


def parse_deadline_value(value: str | None, default_zone: tzinfo) -> datetime | None:
    """A dedicated deadline element: ISO 8601 or any date dateutil reads; a bare date means end of day."""
    found = read_deadline_value(value, default_zone)
    return found.moment if found else None


def read_deadline_value(value: str | None, default_zone: tzinfo) -> Deadline | None:
    """``parse_deadline_value`` with what the source said of its zone and whether it gave a time."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = date_parser.parse(text, dayfirst=not re.match(r"\d{4}-", text))
    except (ValueError, OverflowError, TypeError):
        return None
    has_time = bool(re.search(r"\d{1,2}[:h]\d{2}", text))
    moment = _localise(parsed, None if has_time else time(23, 59, 59), default_zone)
    return Deadline(moment, whole_day=not has_time and parsed.tzinfo is None) if moment else None


def extract_deadline(text: str, default_zone: tzinfo) -> datetime | None:
    """A deadline written in prose: "Deadline: 31/12/2016", "closes on 5 March 2027 at 17:00 CET"."""
    found = find_deadline(text, default_zone)
    return found.moment if found else None


def find_deadline(text: str, default_zone: tzinfo) -> Deadline | None:
    """``extract_deadline`` with the zone the prose named ("23:59 Lisbon time") and whether it gave a time."""
    for match in DEADLINE_PATTERN.finditer(text or ""):
        day = _parse_date(match.group("date"))
        if day is None:
            continue
        given = _parse_time(match.group("time"))
        at = given or time(23, 59, 59)
        named = _zone_from_words(match.group("zone"))
        moment = _localise(datetime.combine(day, at), at, named or default_zone)
        if moment is not None:
            return Deadline(moment, getattr(named, "key", None), whole_day=given is None)
    return None


def _parse_date(text: str) -> datetime | None:
    numeric = re.fullmatch(r"(\d{1,2})[./-](\d{1,2})[./-](\d{2,4})", text)
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    try:
        if iso:
            return datetime(*(int(part) for part in iso.groups()))
        if numeric:
            first, second, year = (int(part) for part in numeric.groups())
            year += 2000 if year < 100 else 0
            day, month = (first, second) if second <= 12 else (second, first)  # European order first
            return datetime(year, month, day)
        return date_parser.parse(text, dayfirst=True, fuzzy=False)
    except (ValueError, OverflowError):
        return None


def _parse_time(text: str | None) -> time | None:
    if not text:
        return None
    hours, minutes = re.split(r"[:.h]", text)
    try:
        return time(int(hours), int(minutes))
    except ValueError:
        return None


def _zone_from_words(words: str | None) -> tzinfo | None:
    if not words:
        return None
    key = words.lower().removesuffix(" time").strip()
    name = ZONE_ABBREVIATIONS.get(key) or _city_zones().get(key)
    return ZoneInfo(name) if name else None


@lru_cache(maxsize=1)
def _city_zones() -> dict[str, str]:
    """"Lisbon time" → Europe/Lisbon, from the IANA names themselves."""
    zones = {}
    for name in available_timezones():
        if "/" in name and not name.startswith(("Etc/", "SystemV/")):
            zones[name.rsplit("/", 1)[1].replace("_", " ").lower()] = name
    return zones


def _localise(value: datetime | None, end_of_day: time | None, zone: tzinfo) -> datetime | None:
    if value is None:
        return None
    if end_of_day is not None and value.tzinfo is None and value.time() == time(0, 0):
        value = datetime.combine(value.date(), end_of_day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None

