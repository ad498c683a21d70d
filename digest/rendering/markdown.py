"""An edition's introduction: the editor's Markdown as HTML an email can carry.

CommonMark (markdown-it-py) with raw HTML off, so markup typed by the editor shows as text; the
result goes through the same allowlist as item summaries (nh3): paragraphs, lists, emphasis, quotes
and absolute http/https/mailto links. Images and headings do not survive (headings become bold lines).
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from digest.rendering.fragments import email_fragment

_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_EMPTY_PARAGRAPH_RE = re.compile(r"<p>\s*</p>\s*")


def markdown_to_html(source: str | None, base_url: str) -> str:
    if not source or not source.strip():
        return ""
    return _EMPTY_PARAGRAPH_RE.sub("", email_fragment(_PARSER.render(source), base_url)).strip()
