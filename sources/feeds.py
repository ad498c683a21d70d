"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 via feedparser, from bytes we fetched ourselves, into Entry records."""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from dateutil import parser as date_parser
from feedparser.mixin import _FeedParserMixin

from sources.entry import Entry, ParsedFeed, ParseError
from sources.normalise import clean_text, text_as_html, to_utc

DIGEST_NAMESPACE = "https://clusterdigest.eu/ns/1.0"
EVENT_NAMESPACE = "http://purl.org/rss/1.0/modules/event/"
_HTML_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S)
_FEED_LINK = re.compile(
    r"<link\b[^>]*type=[\"']application/(?:rss|atom)\+xml[\"'][^>]*>", re.IGNORECASE
)
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*encoding=[\"']([\w.:-]+)[\"']")
_HREF = re.compile(r"href=[\"']([^\"']+)[\"']", re.IGNORECASE)


def _register_namespaces() -> None:
    """Give our elements fixed names (entry.digest_deadline) whatever prefix a feed binds them to."""
    for uri, prefix in ((DIGEST_NAMESPACE, "digest"), (EVENT_NAMESPACE, "ev")):
        _FeedParserMixin.namespaces[uri] = prefix
        if _FeedParserMixin._matchnamespaces:
            _FeedParserMixin._matchnamespaces[uri.lower()] = prefix


_register_namespaces()


def parse_feed(body: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """Entries of an RSS or Atom document; ParseError when the body is not a feed at all."""
    if not body.strip():
        raise ParseError("empty response: the server sent no content")
    body, repaired = repair_utf8(body, headers)
    # No Content-Location: feedparser would resolve GUIDs against it, so a feed moving to a new
    # address would change every GUID. Relative links are resolved in sources.normalise instead.
    response_headers = {name: value for name, value in headers.items() if name != "content-location"}
    # A file-like object, never bytes or str: feedparser would treat those as a path or URL to open.
    # Relative links in content are resolved later against the entry's own link (or xml:base), as
    # a browser on the article page would; sanitising is nh3's job alone (sources.normalise).
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers=response_headers, resolve_relative_uris=False, sanitize_html=False
    )
    version = parsed.get("version") or ""
    entries = parsed.get("entries") or []
    if not version and not entries:
        raise ParseError(_not_a_feed(body, headers, parsed))
    warnings = _warnings(parsed, len(entries), repaired)
    is_atom = version.startswith("atom")
    return ParsedFeed([_entry(raw, is_atom, url) for raw in entries], warnings, _site_url(parsed.feed, url))


def _site_url(feed: Any, url: str) -> str:
    """Relative entry links are taken relative to the site the feed describes (its <link>), as
    feed readers do: a feed served from a feed proxy still links into its own site."""
    link = feed.get("link")
    if not link:
        return url
    try:
        site = urljoin(url, link)
    except ValueError:
        return url
    return site if urlsplit(site).scheme in ("http", "https") else url


def looks_like_html(body: bytes, headers: dict[str, str]) -> bool:
    content_type = headers.get("content-type", "").lower()
    return "html" in content_type or bool(_HTML_START.match(body[:4096].lstrip(b"\xef\xbb\xbf")))


def _not_a_feed(body: bytes, headers: dict[str, str], parsed: Any) -> str:
    if looks_like_html(body, headers):
        message = "not a feed: got an HTML page"
        link = _advertised_feed(body)
        return f"{message} (it links to a feed at {link})" if link else message
    problem = parsed.get("bozo_exception")
    if problem is not None:
        return f"not a feed: the XML is malformed ({_describe_bozo(problem)})"
    return "not a feed: no RSS, Atom or iCalendar content found"


def _advertised_feed(body: bytes) -> str | None:
    text = body[:65536].decode("utf-8", "replace")
    tag = _FEED_LINK.search(text)
    href = _HREF.search(tag.group(0)) if tag else None
    return clean_text(href.group(1))[:300] if href else None


def repair_utf8(body: bytes, headers: dict[str, str]) -> tuple[bytes, int]:
    """UTF-8 text with a few broken bytes gets U+FFFD for them, instead of being read as Latin-1.

    When the document declares UTF-8 we take its word; when it declares nothing, only if most of
    its non-ASCII bytes do form valid UTF-8 (a Windows-1252 file has next to none: feedparser's
    fallback reads it better). Returns the body and how many invalid sequences were replaced.
    """
    declared = _declared_charset(body, headers)
    if declared not in ("", "utf-8", "utf8"):
        return body, 0
    try:
        body.decode("utf-8")
        return body, 0
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", "replace")
    invalid = text.count("\ufffd") - body.decode("utf-8", "ignore").count("\ufffd")
    if not declared and len(_UTF8_MULTIBYTE.findall(body)) < invalid:
        return body, 0
    return text.encode("utf-8"), invalid


def _declared_charset(body: bytes, headers: dict[str, str]) -> str:
    match = _CHARSET.search(headers.get("content-type", "")) or _XML_ENCODING.match(body[:200])
    if not match:
        return ""
    value = match.group(1)
    return (value.decode("ascii", "replace") if isinstance(value, bytes) else value).lower().strip()


def _warnings(parsed: Any, count: int, repaired: int) -> list[str]:
    warnings = [f"{repaired} invalid UTF-8 byte sequences replaced"] if repaired else []
    problem = parsed.get("bozo_exception")
    if not parsed.get("bozo") or problem is None:
        return warnings
    if isinstance(problem, feedparser.CharacterEncodingOverride):
        warnings.append(f"wrong or missing charset: read as {parsed.get('encoding') or 'a fallback encoding'}")
    elif isinstance(problem, feedparser.NonXMLContentType):
        warnings.append(f"served with a non-XML content type ({_describe_bozo(problem)})")
    else:
        warnings.append(f"the feed is not well-formed ({_describe_bozo(problem)}); {count} entries read anyway")
    return warnings


def _describe_bozo(problem: BaseException) -> str:
    text = clean_text(str(problem))
    getline = getattr(problem, "getLineNumber", None)
    if callable(getline) and "line" not in text:
        text = f"line {getline()}: {text}"
    return text[:200] or type(problem).__name__


def _entry(raw: Any, is_atom: bool, document_url: str) -> Entry:
    categories = [
        (clean_text(tag.get("term") or tag.get("label")), clean_text(tag.get("scheme")) or None)
        for tag in raw.get("tags") or []
        if (tag.get("term") or tag.get("label"))
    ]
    start, start_is_day = _event_date(raw.get("ev_startdate") or raw.get("digest_starts"))
    end, end_is_day = _event_date(raw.get("ev_enddate") or raw.get("digest_ends"))
    summary, content_base = _summary(raw)
    return Entry(
        guid=clean_text(raw.get("id")) or None,
        link=raw.get("link") or None,
        title=raw.get("title") or "",
        summary_html=summary,
        content_base=content_base if content_base != document_url else None,
        published=to_utc(_plain(raw, "published_parsed")) or to_utc(_plain(raw, "updated_parsed")),
        updated=to_utc(_plain(raw, "updated_parsed")),
        categories=categories,
        author=clean_text((raw.get("author_detail") or {}).get("name") or raw.get("author")) or None,
        author_is_organisation=is_atom,
        organisation=clean_text(raw.get("digest_organisation")) or None,
        country=clean_text(raw.get("digest_country")) or None,
        image=_image(raw),
        deadline_text=clean_text(raw.get("digest_deadline")) or None,
        starts_at=start,
        ends_at=end,
        location=clean_text(raw.get("ev_location") or raw.get("digest_location")) or None,
        is_event=start is not None,
        all_day=start_is_day and (end is None or end_is_day),
    )


def _plain(raw: Any, key: str) -> Any:
    """Read a key without feedparser's deprecated published/updated fallback mapping."""
    return dict.get(raw, key)


def _summary(raw: Any) -> tuple[str, str | None]:
    """The entry's summary (or its content when there is no summary) as HTML, and its xml:base."""
    detail = _plain(raw, "summary_detail") or {}
    contents = raw.get("content") or []
    if not (detail.get("value") or "").strip() and contents:
        detail = contents[0]
    summary = detail.get("value") or ""
    if detail.get("type") == "text/plain":
        summary = text_as_html(summary)
    return summary, detail.get("base") or None


def _image(raw: Any) -> str | None:
    for enclosure in raw.get("enclosures") or []:
        if (enclosure.get("type") or "").startswith("image/") and enclosure.get("href"):
            return enclosure["href"]
    for media in raw.get("media_content") or []:
        is_image = media.get("medium") == "image" or (media.get("type") or "").startswith("image/")
        if is_image and media.get("url"):
            return media["url"]
    for thumbnail in raw.get("media_thumbnail") or []:
        if thumbnail.get("url"):
            return thumbnail["url"]
    return None


_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _event_date(value: str | None) -> tuple[datetime | None, bool]:
    """The moment, and whether the feed gave a date alone (then it is that day at midnight UTC, for now)."""
    if not value or not value.strip():
        return None, False
    try:
        return to_utc(date_parser.parse(value.strip())), bool(_BARE_DATE.fullmatch(value.strip()))
    except (ValueError, OverflowError):
        return None, False
