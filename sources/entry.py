"""Plain records passed between the collector's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Entry:
    """One entry as a feed or calendar states it: raw text, possibly hostile, not yet normalised."""

    guid: str | None = None
    link: str | None = None
    title: str = ""
    summary_html: str = ""
    content_base: str | None = None  # xml:base for relative links in the summary, when the feed set one
    published: datetime | None = None
    updated: datetime | None = None
    categories: list[tuple[str, str | None]] = field(default_factory=list)  # (term, scheme or domain)
    author: str | None = None
    author_is_organisation: bool = False  # Atom feeds name the organisation as the author
    organisation: str | None = None  # stated explicitly (digest:organisation, iCal ORGANIZER)
    country: str | None = None
    image: str | None = None
    deadline_text: str | None = None  # a dedicated deadline element
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None
    location: str | None = None
    is_event: bool = False  # calendar entries and feed entries with event dates
    # The event's dates came without times (iCalendar VALUE=DATE, a feed's bare date). With `timezone` set they
    # are already that zone's midnight (start) and last second of the last day (end); without, they are the days
    # at midnight UTC, placed in the site's zone by sources/normalise.py.
    all_day: bool = False


@dataclass
class ParsedFeed:
    entries: list[Entry]
    warnings: list[str] = field(default_factory=list)
    base_url: str | None = None  # the site the feed describes, for resolving relative links


@dataclass
class Candidate:
    """An entry normalised and sanitised, with everything an Item needs."""

    kind: str
    title: str
    summary: str
    url: str | None
    guid: str | None
    image_url: str | None = None
    organisation: str | None = None
    country: str | None = None
    topics: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    location: str | None = None
    timezone: str | None = None
    deadline: datetime | None = None
    all_day: bool = False  # dates only: an all-day event, or a deadline that is a whole day
    content_hash: str = ""
    title_key: str = ""  # sources.dedup.title_key(title), computed off the storing thread
    dedup_key: str = ""


class ParseError(Exception):
    """The body is not a feed we can read; the message says what it is instead."""


# The candidate's fields a new Item stores as they are (submissions add its title_key: sources/submissions.py).
_ITEM_COLUMNS = (
    "kind", "title", "summary", "url", "image_url", "organisation", "country", "topics", "published_at",
    "starts_at", "ends_at", "location", "timezone", "deadline", "all_day", "guid", "dedup_key", "content_hash",
)


def item_fields(candidate: Candidate, *, origin: str, source_id: int | None, collected_at: datetime) -> dict[str, Any]:
    """The columns of a new pending Item: the same for a collected entry and a submission."""
    fields = {name: getattr(candidate, name) for name in _ITEM_COLUMNS}
    fields.update(status="pending", featured=False, collected_at=collected_at, origin=origin, source_id=source_id)
    return fields
