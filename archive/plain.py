"""Plain text out of the sanitised HTML fragments items carry (for search, descriptions, calendars)."""

from __future__ import annotations

import html
import re

import nh3

_BLOCK_END = re.compile(r"</(?:p|div|h[1-6]|li|ul|ol|blockquote|pre|tr|table)\s*>|<br\s*/?>", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def paragraphs(fragment: str | None) -> list[str]:
    """The fragment's paragraphs as plain text: tags dropped, entities decoded, spaces collapsed."""
    if not fragment:
        return []
    text = html.unescape(nh3.clean(_BLOCK_END.sub("\n\n", fragment), tags=set()))
    found = (_SPACES.sub(" ", chunk.replace("\n", " ")).strip() for chunk in re.split(r"\n\s*\n", text))
    return [paragraph for paragraph in found if paragraph]


def plain_text(fragment: str | None) -> str:
    return " ".join(paragraphs(fragment))


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-–—") + "…"
