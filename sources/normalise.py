"""Normalising: canonical URLs, plain-text titles, sanitised summaries, UTC dates, column limits."""

from __future__ import annotations

import hashlib
import html
import re
import time
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, tzinfo
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import nh3

from sources import dedup
from sources.classify import detect_kind, extract_deadline, parse_deadline_value
from sources.entry import Candidate, Entry

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
        "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "wickedid",
        "__s", "_ga", "_gl", "ncid", "cmpid", "ref_src", "s_cid", "sr_share",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_", "matomo_")
WEB_SCHEMES = ("http", "https")

SUMMARY_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "figcaption", "figure", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "u", "ul",
}  # fmt: skip
SUMMARY_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "q": {"cite"},
}
DROPPED_WITH_CONTENT = {
    "script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
    "form", "textarea", "select", "button", "frameset", "frame", "applet", "title",
}  # fmt: skip
URL_SCHEMES = {"http", "https", "mailto"}

# Text columns and their lengths (PostgreSQL enforces them; SQLite does not).
LIMITS = {
    "title": 500,
    "url": 2048,
    "organisation": 300,
    "country": 100,
    "location": 500,
    "timezone": 64,
    "guid": 2048,
    "topic": 60,
}
EARLIEST_PUBLISHED = datetime(1995, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SPACES = re.compile(r"\s+")
_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>")
_IMG_SRC = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", re.IGNORECASE)


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL without tracking parameters or fragment, or None if there is none."""
    if not url:
        return None
    url = _CONTROL.sub("", url).strip()
    if not url:
        return None
    if base:
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    if parts.username or parts.password:
        return None  # credentials in a link are either a mistake or a trap
    query = strip_tracking_query(parts.query)
    result = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    return result if len(result) <= LIMITS["url"] else None


def strip_tracking_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _is_tracking(k)]
    if len(kept) == len(pairs):
        return query
    return urlencode(kept)


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def clean_text(value: str | None) -> str:
    """Collapse whitespace and drop control characters (PostgreSQL refuses NUL in text)."""
    if not value:
        return ""
    return _SPACES.sub(" ", _CONTROL.sub("", value)).strip()


def plain_text(value: str | None) -> str:
    """Text without markup or entities: titles and other one-line fields."""
    text = clean_text(value)
    for _round in range(3):  # feeds double-escape markup often enough: peel it until stable
        stripped = html.unescape(nh3.clean(text, tags=set()))
        stripped = clean_text(stripped)
        if stripped == text:
            break
        text = stripped
    return text


def truncate(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


_LINK_BASE: ContextVar[str | None] = ContextVar("link_base", default=None)


def _rewrite_url(element: str, attribute: str, value: str) -> str | None:
    """nh3 attribute filter: make href/src absolute against the current base, drop tracking."""
    if attribute not in ("href", "src", "cite"):
        return value
    if element == "a" and value.lower().startswith("mailto:"):
        return value
    base = _LINK_BASE.get()
    return _absolute_link(value, base) if attribute == "href" else canonical_url(value, base)


_CLEANER = nh3.Cleaner(
    tags=SUMMARY_TAGS,
    clean_content_tags=DROPPED_WITH_CONTENT,
    attributes=SUMMARY_ATTRIBUTES,
    attribute_filter=_rewrite_url,
    url_schemes=URL_SCHEMES,
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def _absolute_link(value: str, base: str | None) -> str | None:
    """Links keep their fragment (anchors matter inside an article); tracking is dropped."""
    if not value.strip():
        return None
    fragment = ""
    if "#" in value:
        value, fragment = value.split("#", 1)
    url = canonical_url(value, base) if value else (canonical_url(base) if base else None)
    if url is None:
        return None
    return f"{url}#{fragment}" if fragment else url


def sanitise_html(fragment: str | None, base: str | None = None, max_chars: int = 20_000) -> str:
    """Summary HTML reduced to a small allowlist, links and images absolute."""
    if not fragment:
        return ""
    token = _LINK_BASE.set(base if base and urlsplit(base).scheme in WEB_SCHEMES else None)
    try:
        cleaned = _CLEANER.clean(_CONTROL.sub("", fragment))
        if len(cleaned) > max_chars:
            cleaned = _CLEANER.clean(cleaned[:max_chars] + "…")  # re-parse to close the tags cut off
    finally:
        _LINK_BASE.reset(token)
    if "<pre" not in cleaned:
        cleaned = _SPACES.sub(" ", cleaned)
    return _EMPTY_PARAGRAPH.sub("", cleaned).strip()


def text_as_html(text: str | None) -> str:
    """Plain text (iCalendar descriptions, text/plain summaries) as paragraphs with line breaks."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n")):
        lines = [html.escape(clean_text(line), quote=False) for line in block.split("\n")]
        if any(lines):
            paragraphs.append("<p>" + "<br>".join(line for line in lines if line) + "</p>")
    return "".join(paragraphs)


def html_to_text(fragment: str) -> str:
    return clean_text(html.unescape(nh3.clean(fragment.replace("<", " <"), tags=set())))


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
    entry: Entry, *, source_kind: str, base: str | None, now: datetime, zone: tzinfo, max_summary_chars: int
) -> Candidate | None:
    """The entry as an Item would store it, or None when it carries nothing to show."""
    url = canonical_url(entry.link, base)
    summary = sanitise_html(entry.summary_html, entry.content_base or url or base, max_summary_chars)
    title = plain_text(entry.title) or _title_from(summary)
    if not title:
        return None
    organisation, country, topics = _categorise(entry)
    deadline = parse_deadline_value(entry.deadline_text, zone)
    kind = source_kind
    if kind == "auto":
        kind = detect_kind(topics, title, has_deadline=deadline is not None, is_event=entry.is_event)
    if deadline is None and (kind == "call" or (source_kind == "auto" and kind == "news")):
        deadline = extract_deadline(title + " \n " + html_to_text(summary), zone)
        if deadline is not None and source_kind == "auto" and kind == "news":
            kind = "call"
    image = canonical_url(entry.image, url or base) or canonical_url(first_image(summary))
    candidate = Candidate(
        kind=kind,
        title=truncate(title, LIMITS["title"]) or "",
        summary=summary,
        url=url,
        guid=_guid(entry.guid),
        image_url=image,
        organisation=truncate(organisation, LIMITS["organisation"]),
        country=truncate(country, LIMITS["country"]),
        topics=topics,
        published_at=sane_published(entry.published, now),
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        location=truncate(plain_text(entry.location) or None, LIMITS["location"]),
        timezone=entry.timezone if entry.timezone and len(entry.timezone) <= LIMITS["timezone"] else None,
        deadline=deadline if kind == "call" or entry.deadline_text else None,
    )
    candidate.content_hash = dedup.content_hash(candidate)
    candidate.title_key = dedup.title_key(candidate.title)
    return candidate


def _title_from(summary: str) -> str:
    return truncate(html_to_text(summary), 120) or ""


def _guid(value: str | None) -> str | None:
    guid = clean_text(value)
    if not guid:
        return None
    # An over-long GUID is still an identity: keep it whole, as a hash.
    return guid if len(guid) <= LIMITS["guid"] else "sha256:" + hashlib.sha256(guid.encode()).hexdigest()


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
            topics.append(truncate(text, LIMITS["topic"]) or text)
    if organisation is None and entry.author_is_organisation and entry.author:
        organisation = plain_text(entry.author) or None
    return organisation, country, topics


def _scheme_name(scheme: str | None) -> str:
    if not scheme:
        return ""
    return scheme.lower().rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
