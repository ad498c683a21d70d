"""Normalising: plain-text titles, sanitised summaries, UTC dates, column limits (canonical URLs and the
sanitiser itself are in digest.rendering.sanitise, shared with the emails and the editors' app)."""

from __future__ import annotations

import hashlib
import html
import re
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as dt_time
from urllib.parse import urlsplit

from digest.models import TEXT_LIMITS
from digest.rendering.sanitise import canonical_url, sanitise_html
from digest.rendering.text import clean_text, html_to_text, plain_text
from sources import dedup
from sources.classify import Deadline, detect_kind, find_deadline, read_deadline_value
from sources.entry import Candidate, Entry

EARLIEST_PUBLISHED = datetime(1995, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)

_IMG_SRC = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", re.IGNORECASE)


def truncate(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def text_as_html(text: str | None) -> str:
    """Plain text (iCalendar descriptions, text/plain summaries) as paragraphs with line breaks."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n")):
        lines = [html.escape(clean_text(line), quote=False) for line in block.split("\n")]
        if any(lines):
            paragraphs.append("<p>" + "<br>".join(line for line in lines if line) + "</p>")
    return "".join(paragraphs)


def first_image(fragment: str) -> str | None:
    match = _IMG_SRC.search(fragment)
    return html.unescape(match.group(1)) if match else None


def to_utc(value: object) -> datetime | None:
    """A UTC datetime from a datetime, a date or feedparser's struct_time (which is already UTC)."""
    try:
        if isinstance(value, time.struct_time):
            return datetime(*value[:6], tzinfo=UTC)
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
    except (ValueError, OverflowError, TypeError):
        return None
    return None


def sane_published(value: datetime | None, now: datetime) -> datetime | None:
    """A publication date fit to sort by: absurdly old ones dropped, future ones brought back to now.

    Only publication dates get this treatment; event dates and deadlines are meant to be in the future.
    """
    if value is None or value < EARLIEST_PUBLISHED:
        return None
    if value > now + FUTURE_TOLERANCE:
        return now
    return value


COUNTRY_SCHEMES = frozenset({"country", "countries"})
ORGANISATION_SCHEMES = frozenset({"organisation", "organization", "org", "organisations", "organizations"})
MAX_TOPICS = 12


def build_candidate(
    entry: Entry,
    *,
    source_kind: str,
    base: str | None,
    now: datetime,
    zone: tzinfo,
    max_summary_chars: int,
    bundled: bool = False,
) -> Candidate | None:
    """The entry as an Item would store it, or None when it carries nothing to show."""
    url = canonical_url(entry.link, base)
    summary = sanitise_html(entry.summary_html, entry.content_base or url or base, max_summary_chars)
    title = plain_text(entry.title) or _title_from(summary)
    if not title:
        return None
    organisation, country, topics = _categorise(entry)
    deadline = read_deadline_value(entry.deadline_text, zone)
    kind = source_kind
    if kind == "auto":
        kind = detect_kind(topics, title, has_deadline=deadline is not None, is_event=entry.is_event)
    if deadline is None and (kind == "call" or (source_kind == "auto" and kind == "news")):
        deadline = find_deadline(title + " \n " + html_to_text(summary), zone)
        if deadline is not None and source_kind == "auto" and kind == "news":
            kind = "call"
    if deadline is not None and deadline.zone is None and entry.deadline_text:
        deadline = _zone_from_prose(deadline, title + " \n " + html_to_text(summary), zone)
    if not (kind == "call" or entry.deadline_text):
        deadline = None
    starts_at, ends_at, event_zone = _event_times(entry, zone)
    image = (bundled_image(entry.image) if bundled else None) or canonical_url(entry.image, url or base)
    image = image or canonical_url(first_image(summary))
    candidate = Candidate(
        kind=kind,
        title=truncate(title, TEXT_LIMITS["title"]) or "",
        summary=summary,
        url=url,
        guid=_guid(entry.guid),
        image_url=image,
        organisation=truncate(organisation, TEXT_LIMITS["organisation"]),
        country=truncate(country, TEXT_LIMITS["country"]),
        topics=topics,
        published_at=sane_published(entry.published, now),
        starts_at=starts_at,
        ends_at=ends_at,
        location=truncate(plain_text(entry.location) or None, TEXT_LIMITS["location"]),
        timezone=_zone_kept(event_zone or (deadline.zone if deadline else None)),
        deadline=deadline.moment if deadline else None,
        all_day=_all_day(entry, starts_at, deadline),
    )
    candidate.content_hash = dedup.content_hash(candidate)
    candidate.title_key = dedup.title_key(candidate.title)
    return candidate


def _event_times(entry: Entry, zone: tzinfo) -> tuple[datetime | None, datetime | None, str | None]:
    """Start, end and zone; a feed's bare dates become the site's whole days (its first midnight, last second)."""
    if not (entry.all_day and entry.timezone is None and entry.starts_at is not None):
        return entry.starts_at, entry.ends_at, entry.timezone
    first = datetime.combine(entry.starts_at.date(), dt_time(0, 0), tzinfo=zone).astimezone(UTC)
    last = entry.ends_at.date() if entry.ends_at is not None else entry.starts_at.date()
    end = datetime.combine(last, dt_time(23, 59, 59), tzinfo=zone).astimezone(UTC)
    return first, end, getattr(zone, "key", None)


def _zone_from_prose(deadline: Deadline, text: str, zone: tzinfo) -> Deadline:
    """A deadline element gives an offset ("+00:00"), the text the place ("23:59 Lisbon time"): the same moment
    takes the text's zone, so it is shown in Lisbon time."""
    stated = find_deadline(text, zone)
    if stated is not None and stated.zone and stated.moment == deadline.moment:
        return replace(deadline, zone=stated.zone)
    return deadline


def _zone_kept(name: str | None) -> str | None:
    return name if name and len(name) <= TEXT_LIMITS["timezone"] else None


def _all_day(entry: Entry, starts_at: datetime | None, deadline: Deadline | None) -> bool:
    if starts_at is not None:
        return entry.all_day
    return deadline is not None and deadline.whole_day


def _title_from(summary: str) -> str:
    return truncate(html_to_text(summary), 120) or ""


def _guid(value: str | None) -> str | None:
    guid = clean_text(value)
    if not guid:
        return None
    # An over-long GUID is still an identity: keep it whole, as a hash.
    return guid if len(guid) <= TEXT_LIMITS["guid"] else "sha256:" + hashlib.sha256(guid.encode()).hexdigest()


def _categorise(entry: Entry) -> tuple[str | None, str | None, list[str]]:
    organisation, country = entry.organisation, entry.country
    topics: list[str] = []
    seen: set[str] = set()
    for term, scheme in entry.categories:
        text = plain_text(term)
        if not text:
            continue
        role = _scheme_name(scheme)
        if role in COUNTRY_SCHEMES:
            country = country or text
        elif role in ORGANISATION_SCHEMES:
            organisation = organisation or text
        elif text.casefold() not in seen and len(topics) < MAX_TOPICS:
            seen.add(text.casefold())
            topics.append(truncate(text, TEXT_LIMITS["topic"]) or text)
    if organisation is None and entry.author_is_organisation and entry.author:
        organisation = plain_text(entry.author) or None
    return organisation, country, topics


def _scheme_name(scheme: str | None) -> str:
    if not scheme:
        return ""
    return scheme.lower().rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


# The bundled demo feeds' pictures ship with the app (digest/web/static/samples/), so the demo works offline:
# a sample:// feed (`bundled`) names them by their path on our own site, which rendering joins to site.base_url.
_BUNDLED_IMAGE = re.compile(r"/static/samples/[a-z]+/[a-z0-9-]{1,80}\.png")


def bundled_image(image: str | None) -> str | None:
    """The site path of a bundled picture a sample:// feed names (feed parsing may have joined it to the
    feed's own link), else None."""
    if not image:
        return None
    path = urlsplit(image).path
    return path if _BUNDLED_IMAGE.fullmatch(path) else None
