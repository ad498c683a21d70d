"""A submitted summary: plain text or a small, safe subset of Markdown, as the summary HTML items store.

HTML is not part of the subset: tags typed by a submitter are stripped first (with the content of
scripts and styles), the way titles lose theirs. Then CommonMark (markdown-it-py) with raw HTML off
and only paragraphs, line breaks, emphasis, lists, quotes, inline code and links left on: images go
in the item's own image link, headings and code blocks break the emails' layout. The result goes
through the collectors' own sanitiser (nh3 allowlist, absolute http/https/mailto links), so a
submitted summary is held to exactly the rules of a collected one.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

from sources.normalise import sanitise_html

# Single line breaks are kept (`breaks`): people typing plain text expect their lines to stay lines.
_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}).disable(
    ["image", "heading", "lheading", "code", "fence", "hr", "html_block", "html_inline"]
)
# Every link is parsed as a link, so one with a refused scheme (javascript:, data:) loses its target in
# the sanitiser and keeps only its words, rather than showing its source text.
_PARSER.validateLink = lambda _url: True
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def summary_source(text: str | None) -> str:
    """The text as the submitter meant it: browsers send CRLF line ends, lengths count characters."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def summary_html(text: str | None, base_url: str | None = None) -> str:
    """Sanitised HTML for the summary; relative links are resolved against ``base_url`` (the item's link)."""
    source = _without_markup(summary_source(text))
    if not source.strip():
        return ""
    return sanitise_html(_PARSER.render(source), base=base_url)


def _without_markup(text: str) -> str:
    # Markdown's <https://…> autolinks would read as tags: they become [url](url) links first.
    text = _AUTOLINK.sub(lambda match: f"[{match.group(1)}]({match.group(1)})", _CONTROL.sub("", text))
    for _round in range(3):  # markup escaped once or twice is still markup: peel until stable
        stripped = html.unescape(nh3.clean(text, tags=set()))
        if stripped == text:
            break
        text = stripped
    return text
