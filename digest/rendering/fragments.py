"""Item summaries made ready for an email, with their plain-text twins for the text part.

A summary keeps the ``EMAIL`` rule set of ``digest.rendering.sanitise``; one longer than
``SUMMARY_LIMIT`` characters becomes a plain teaser in both parts. A card's "Read more" follows the
summary's last words, so the HTML comes split before its last paragraph.

Pure functions: nothing here imports the rest of the project but its pure rendering helpers.
"""

from __future__ import annotations

import html as html_lib
import re

from digest.rendering.sanitise import email_fragment
from digest.rendering.text import clip, html_paragraphs

# Characters of text. A card is a preview: two or three lines of teaser beside its thumbnail, the
# rest is one click away. A summary a little over the teaser is kept whole rather than cut by a word.
SUMMARY_LIMIT = 180
TEASER_LIMIT = 140
# The fragment's last paragraph. The fragment is nh3's output (EMAIL rule set): <p> has no attributes
# and never nests, so its last paragraph is the last "<p>" whose content holds no other <p> or </p>.
_LAST_PARAGRAPH = re.compile(r"<p>((?:(?!</?p>).)*)</p>\s*\Z", re.S)


def plain_summary(fragment: str, limit: int = TEASER_LIMIT) -> str:
    """A short one-paragraph plain-text summary, cut at a word boundary."""
    return clip(" ".join(html_paragraphs(fragment, bullets=True)), limit)


def email_summary(fragment: str, base_url: str) -> tuple[str, str]:
    """An item's summary as (HTML, text) for the email: whole when short, else the same plain teaser
    in both parts. Every link of the HTML is spelled out in the text."""
    cleaned = email_fragment(fragment, base_url)
    if len(" ".join(html_paragraphs(cleaned, bullets=True))) <= SUMMARY_LIMIT:
        return cleaned, "\n\n".join(html_paragraphs(cleaned, links=True, bullets=True))
    teaser = plain_summary(cleaned)
    return f"<p>{html_lib.escape(teaser, quote=False)}</p>", teaser


def split_last_paragraph(fragment: str) -> tuple[str, str | None]:
    """(the fragment before its last paragraph, that paragraph's inner HTML) when it ends with a
    paragraph, else (the fragment, None): what a link that follows the last words needs."""
    last = _LAST_PARAGRAPH.search(fragment)
    if last is None:
        return fragment, None
    return fragment[: last.start()], last.group(1)
