"""Markdown, the one renderer: CommonMark (markdown-it-py) with raw HTML off, then the nh3 rule sets
of ``digest.rendering.sanitise``.

Two texts are written in Markdown, with one flavour each:

- an edition's introduction (``intro_html``), typed by an editor, goes into the email: the ``EMAIL``
  rule set; headings become bold lines, images do not survive.
- a submitted summary (``summary_html``), typed by anyone on the submission form, is stored with the
  item: the ``STORED`` rule set, so it is held to exactly the rules of a collected summary. Only
  paragraphs, line breaks, emphasis, lists, quotes, inline code and links are on: images go in the
  item's own image link, headings and code blocks break the emails' layout. Tags typed by a submitter
  are stripped first (with the content of scripts and styles), the way titles lose theirs, and single
  line breaks are kept: people typing plain text expect their lines to stay lines.
"""

from __future__ import annotations

import html
import re
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdownify import MarkdownConverter

from digest.rendering.sanitise import email_fragment, sanitise_html

_OPTIONS = {"html": False, "linkify": False, "typographer": False}
_INTRO = MarkdownIt("commonmark", _OPTIONS)
_SUMMARY = MarkdownIt("commonmark", {**_OPTIONS, "breaks": True}).disable(
    ["image", "heading", "lheading", "code", "fence", "hr", "html_block", "html_inline"]
)
# Every link is parsed as a link, so one with a refused scheme (javascript:, data:) loses its target in
# the sanitiser and keeps only its words, rather than showing its source text.
_SUMMARY.validateLink = lambda _url: True

_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>\s*")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def intro_html(source: str | None, base_url: str) -> str:
    """An edition's introduction as HTML an email can carry."""
    if not source or not source.strip():
        return ""
    return _EMPTY_PARAGRAPH.sub("", email_fragment(_INTRO.render(source), base_url)).strip()


def summary_source(text: str | None) -> str:
    """The text as the submitter meant it: browsers send CRLF line ends, lengths count characters."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def summary_html(text: str | None, base_url: str | None = None) -> str:
    """A submitted summary as the HTML items store; relative links resolve against ``base_url``."""
    source = _without_markup(summary_source(text))
    if not source.strip():
        return ""
    return sanitise_html(_SUMMARY.render(source), base=base_url)


def _without_markup(text: str) -> str:
    # Markdown's <https://…> autolinks would read as tags: they become [url](url) links first.
    text = _AUTOLINK.sub(lambda match: f"[{match.group(1)}]({match.group(1)})", _CONTROL.sub("", text))
    for _round in range(3):  # markup escaped once or twice is still markup: peel until stable
        stripped = html.unescape(nh3.clean(text, tags=set()))
        if stripped == text:
            break
        text = stripped
    return text


class _SummaryConverter(MarkdownConverter):
    """Stored summary HTML as the Markdown summary_html reads back: headings become bold lines and
    images are left out, since summaries keep neither (summary_changes names what went)."""

    def convert_hN(self, n: int, el: Any, text: str, parent_tags: set[str]) -> str:
        text = text.strip()
        return f"\n\n**{text}**\n\n" if text else ""

    def convert_img(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return ""


_TO_MARKDOWN = _SummaryConverter(heading_style="ATX", bullets="-", escape_underscores=False, escape_asterisks=True)
_TYPED_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]{0,15})\b[^<>]{0,500}>")
_TYPED_HEADING = re.compile(r"^ {0,3}#{1,6}\s", re.MULTILINE)
_TYPED_IMAGE = re.compile(r"!\[[^\]]{0,500}\]\(")
_TYPED_LINK = re.compile(r"(?<!!)\[[^\]]{0,500}\]\(")
_LINK_WITH_ADDRESS = re.compile(r"<a\s[^>]*href=")
# What a stored (collected) summary may hold that a Markdown summary cannot: lost when it is edited.
# (Headings are kept as bold lines.)
_LOST = {"img": "image", "pre": "code block", "figure": "figure", "hr": "rule"}


def summary_markdown(stored_html: str | None) -> str:
    """A stored summary (HTML) as the Markdown an editor edits."""
    if not stored_html or not stored_html.strip():
        return ""
    text = _TO_MARKDOWN.convert(stored_html)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def summary_changes(typed: str, before_html: str, after_html: str) -> list[str]:
    """What the summary's rules removed from what an editor typed, worded for them (empty: nothing)."""
    notes = []
    tags = sorted({match.group(1).lower() for match in _TYPED_TAG.finditer(typed)})
    if tags:
        notes.append("HTML tags are not kept, write Markdown instead: " + ", ".join(f"<{tag}>" for tag in tags))
    if _TYPED_HEADING.search(typed):
        notes.append("headings are not kept in summaries (they show as typed): use **bold** instead")
    if _TYPED_IMAGE.search(typed):
        notes.append("images are not kept in summaries: give the item's image link instead")
    refused = len(_TYPED_LINK.findall(typed)) - len(_LINK_WITH_ADDRESS.findall(after_html))
    if refused > 0:
        notes.append(f"{refused} link{'s' if refused > 1 else ''} lost {'their' if refused > 1 else 'its'} address: "
                     "only http://, https:// and mailto: links are kept")  # fmt: skip
    for tag, name in _LOST.items():
        lost = before_html.count(f"<{tag}") - after_html.count(f"<{tag}")
        if lost > 0 and not any(name in note for note in notes):
            notes.append(f"the summary's {name}{'s' if lost > 1 else ''} could not be kept (summaries keep none)")
    return notes
