"""HTML sanitising: the one nh3 allowlist module, with its two named rule sets.

``STORED`` is what an item's summary keeps in the database (from a feed, a submission or an editor):
what the archive's web pages can show, images, sub-headings and code blocks included, every link and
image absolute and without tracking parameters. ``EMAIL`` is what goes into an email: only markup
every mail client shows the same way (paragraphs, lists, emphasis, quotes, links); images, headings,
tables and preformatted blocks break layouts at phone width, so they go there. The two sets must
differ for that reason; an email fragment is always a subset of a stored one.

Pure functions: nothing here imports the rest of the project.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import nh3

from digest.rendering.text import without_controls


@dataclass(frozen=True)
class Rules:
    tags: frozenset[str]
    attributes: dict[str, set[str]]
    url_schemes: frozenset[str]


LINK_SCHEMES = frozenset({"http", "https", "mailto"})
WEB_SCHEMES = ("http", "https")

STORED = Rules(
    tags=frozenset({
        "a", "abbr", "b", "blockquote", "br", "code", "em", "figcaption", "figure", "h3", "h4", "h5", "h6",
        "hr", "i", "img", "li", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "u", "ul",
    }),
    attributes={"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}, "abbr": {"title"},
                "q": {"cite"}},
    url_schemes=LINK_SCHEMES,
)  # fmt: skip
EMAIL = Rules(
    tags=frozenset({
        "a", "abbr", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "q", "s", "small",
        "strong", "sub", "sup", "u", "ul",
    }),
    attributes={"a": {"href"}, "abbr": {"title"}},
    url_schemes=LINK_SCHEMES,
)  # fmt: skip
# Elements whose content goes with them (a script's code is no text to keep).
DROPPED_WITH_CONTENT = {
    "script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
    "form", "textarea", "select", "button", "frameset", "frame", "applet", "title",
}  # fmt: skip

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
        "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "wickedid",
        "__s", "_ga", "_gl", "ncid", "cmpid", "ref_src", "s_cid", "sr_share",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_", "matomo_")
URL_LIMIT = 2048

_SPACES = re.compile(r"\s+")
_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>")
_HEADING = re.compile(r"<(/?)h[1-6]\b[^>]*>", re.I)


# --------------------------------------------------------------------------- links


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL without tracking parameters or fragment, or None if there is none."""
    if not url:
        return None
    url = without_controls(url).strip()
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
    return result if len(result) <= URL_LIMIT else None


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


def absolute_link(url: str | None, base_url: str) -> str | None:
    """An absolute http(s) or mailto URL, or None: relative URLs are joined to ``base_url``,
    other schemes (javascript:, data:, …) dropped."""
    if not url or not url.strip():
        return None
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme in LINK_SCHEMES:
        return url
    if scheme:
        return None
    joined = urljoin(base_url.rstrip("/") + "/", url)
    return joined if urlsplit(joined).scheme.lower() in WEB_SCHEMES else None


def _stored_link(value: str, base: str | None) -> str | None:
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


# --------------------------------------------------------------------------- the two rule sets

_LINK_BASE: ContextVar[str | None] = ContextVar("link_base", default=None)


def _rewrite_stored_url(element: str, attribute: str, value: str) -> str | None:
    """nh3 attribute filter: make href/src absolute against the current base, drop tracking."""
    if attribute not in ("href", "src", "cite"):
        return value
    if element == "a" and value.lower().startswith("mailto:"):
        return value
    base = _LINK_BASE.get()
    return _stored_link(value, base) if attribute == "href" else canonical_url(value, base)


_STORED_CLEANER = nh3.Cleaner(
    tags=set(STORED.tags),
    clean_content_tags=DROPPED_WITH_CONTENT,
    attributes=STORED.attributes,
    attribute_filter=_rewrite_stored_url,
    url_schemes=set(STORED.url_schemes),
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def sanitise_html(fragment: str | None, base: str | None = None, max_chars: int = 20_000) -> str:
    """HTML as an item's summary keeps it (``STORED``): a small allowlist, links and images absolute."""
    if not fragment:
        return ""
    token = _LINK_BASE.set(base if base and urlsplit(base).scheme in WEB_SCHEMES else None)
    try:
        cleaned = _STORED_CLEANER.clean(without_controls(fragment))
        if len(cleaned) > max_chars:
            cleaned = _STORED_CLEANER.clean(cleaned[:max_chars] + "…")  # re-parse to close the tags cut off
    finally:
        _LINK_BASE.reset(token)
    if "<pre" not in cleaned:
        cleaned = _SPACES.sub(" ", cleaned)
    return _EMPTY_PARAGRAPH.sub("", cleaned).strip()


def email_fragment(fragment: str, base_url: str) -> str:
    """A fragment reduced to ``EMAIL`` markup, every link absolute (headings become bold paragraphs)."""
    if not fragment or not fragment.strip():
        return ""

    def keep_absolute(tag: str, attribute: str, value: str) -> str | None:
        return absolute_link(value, base_url) if attribute == "href" else value

    flattened = _HEADING.sub(lambda match: "</strong></p>" if match.group(1) else "<p><strong>", fragment)
    return nh3.clean(
        flattened,
        tags=set(EMAIL.tags),
        attributes=EMAIL.attributes,
        url_schemes=set(EMAIL.url_schemes),
        attribute_filter=keep_absolute,
        link_rel=None,
    ).strip()
