"""HTML fragments (item summaries, the editorial introduction) made ready for an email, and their
plain-text twins for the text part.

In an email a fragment keeps only markup every mail client shows the same way: paragraphs, lists,
emphasis, quotes and links (absolute, http/https/mailto). Images, headings, tables and preformatted
blocks go: the item's own image and title carry that role, and they are what breaks layouts at
phone width. A summary longer than ``SUMMARY_LIMIT`` characters becomes a plain teaser in both parts.

Pure functions: nothing here imports the rest of the project.
"""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import urljoin, urlsplit

import nh3

SUMMARY_LIMIT = 320  # characters of text; a longer summary is cut to a teaser
TEASER_LIMIT = 240

EMAIL_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "q", "s", "small",
    "strong", "sub", "sup", "u", "ul",
}  # fmt: skip
EMAIL_ATTRIBUTES = {"a": {"href"}, "abbr": {"title"}}
LINK_SCHEMES = {"http", "https", "mailto"}

_HEADING_RE = re.compile(r"<(/?)h[1-6]\b[^>]*>", re.I)
_BLOCK_END_RE = re.compile(r"</(?:p|div|h[1-6]|li|ul|ol|blockquote|pre|tr|table)\s*>|<br\s*/?>", re.I)
_LI_START_RE = re.compile(r"<li\b[^>]*>", re.I)
_LINK_RE = re.compile(r"<a\b[^>]*?\bhref=\"([^\"]*)\"[^>]*>(.*?)</a>", re.I | re.S)
_SPACES_RE = re.compile(r"[ \t\r\f\v\u00a0]+")


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
    return joined if urlsplit(joined).scheme.lower() in ("http", "https") else None


def email_fragment(fragment: str, base_url: str) -> str:
    """The fragment reduced to email-safe markup, every link absolute (headings become bold paragraphs)."""
    if not fragment or not fragment.strip():
        return ""

    def keep_absolute(tag: str, attribute: str, value: str) -> str | None:
        return absolute_link(value, base_url) if attribute == "href" else value

    flattened = _HEADING_RE.sub(lambda match: "</strong></p>" if match.group(1) else "<p><strong>", fragment)
    return nh3.clean(
        flattened,
        tags=EMAIL_TAGS,
        attributes=EMAIL_ATTRIBUTES,
        url_schemes=LINK_SCHEMES,
        attribute_filter=keep_absolute,
        link_rel=None,
    ).strip()


def html_to_paragraphs(fragment: str, with_links: bool = False) -> list[str]:
    """Plain-text paragraphs of an HTML fragment (tags stripped, entities decoded); with
    ``with_links`` a link reads "its text (its URL)"."""
    if not fragment:
        return []
    if with_links:
        fragment = _LINK_RE.sub(_spelled_out_link, fragment)
    marked = _LI_START_RE.sub("\n\n- ", _BLOCK_END_RE.sub("\n\n", fragment))
    text = html_lib.unescape(nh3.clean(marked, tags=set()))
    paragraphs = []
    for chunk in re.split(r"\n\s*\n", text):
        line = _SPACES_RE.sub(" ", chunk.replace("\n", " ")).strip()
        if line:
            paragraphs.append(line)
    return paragraphs


def _spelled_out_link(match: re.Match[str]) -> str:
    url = html_lib.unescape(match.group(1))
    label = match.group(2)
    plain_label = html_lib.unescape(nh3.clean(label, tags=set())).strip()
    shown = url.removeprefix("mailto:")
    if not plain_label or plain_label in (url, shown):
        return html_lib.escape(shown, quote=False)
    return f"{label} ({html_lib.escape(shown, quote=False)})"


def plain_summary(fragment: str, limit: int = TEASER_LIMIT) -> str:
    """A short one-paragraph plain-text summary, cut at a word boundary."""
    text = " ".join(html_to_paragraphs(fragment))
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return f"{cut}…"


def email_summary(fragment: str, base_url: str) -> tuple[str, str]:
    """An item's summary as (HTML, text) for the email: whole when short, else the same plain teaser
    in both parts. Every link of the HTML is spelled out in the text."""
    cleaned = email_fragment(fragment, base_url)
    if len(" ".join(html_to_paragraphs(cleaned))) <= SUMMARY_LIMIT:
        return cleaned, "\n\n".join(html_to_paragraphs(cleaned, with_links=True))
    teaser = plain_summary(cleaned)
    return f"<p>{html_lib.escape(teaser, quote=False)}</p>", teaser
