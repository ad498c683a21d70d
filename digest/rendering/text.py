"""Plain text out of HTML: the one conversion every part of the product uses (the email's text part,
titles and deadlines in the collectors, the archive's search index, descriptions and calendars).

Block ends (paragraphs, list items, headings, line breaks…) become paragraph breaks, tags go (nh3),
entities are decoded and runs of spaces collapse. Pure functions: nothing here imports the project.
"""

from __future__ import annotations

import html
import re

import nh3

_BLOCK_END = re.compile(r"</(?:p|div|h[1-6]|li|ul|ol|blockquote|pre|tr|table)\s*>|<br\s*/?>", re.I)
_LI_START = re.compile(r"<li\b[^>]*>", re.I)
_LINK = re.compile(r"<a\b[^>]*?\bhref=\"([^\"]*)\"[^>]*>(.*?)</a>", re.I | re.S)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def html_paragraphs(fragment: str | None, *, links: bool = False, bullets: bool = False) -> list[str]:
    """The fragment's paragraphs as plain text. With ``links`` a link reads "its text (its URL)";
    with ``bullets`` a list item starts with "- "."""
    if not fragment:
        return []
    if links:
        fragment = _LINK.sub(_spelled_out_link, fragment)
    marked = _BLOCK_END.sub("\n\n", fragment)
    if bullets:
        marked = _LI_START.sub("\n\n- ", marked)
    text = html.unescape(nh3.clean(marked, tags=set()))
    found = (_SPACES.sub(" ", chunk.replace("\n", " ")).strip() for chunk in _PARAGRAPH_BREAK.split(text))
    return [paragraph for paragraph in found if paragraph]


def html_to_text(fragment: str | None) -> str:
    """The fragment as one line of plain text (its paragraphs joined by a space)."""
    return " ".join(html_paragraphs(fragment))


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-–—") + "…"


def _spelled_out_link(match: re.Match[str]) -> str:
    url = html.unescape(match.group(1))
    label = match.group(2)
    plain_label = html.unescape(nh3.clean(label, tags=set())).strip()
    shown = url.removeprefix("mailto:")
    if not plain_label or plain_label in (url, shown):
        return html.escape(shown, quote=False)
    return f"{label} ({html.escape(shown, quote=False)})"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SPACES = re.compile(r"\s+")


def without_controls(value: str) -> str:
    """The text without control characters but tab, newline and carriage return (PostgreSQL refuses NUL)."""
    return _CONTROL.sub("", value)


def clean_text(value: str | None) -> str:
    """Collapse whitespace and drop control characters (PostgreSQL refuses NUL in text)."""
    if not value:
        return ""
    return _SPACES.sub(" ", without_controls(value)).strip()


def plain_text(value: str | None) -> str:
    """Text without markup or entities: titles and other one-line fields."""
    text = clean_text(value)
    for _round in range(3):  # feeds double-escape markup often enough: peel it until stable
        stripped = clean_text(html_to_text(text))
        if stripped == text:
            break
        text = stripped
    return text
