"""Item summaries made ready for an email, with their plain-text twins for the text part.

A summary keeps the ``EMAIL`` rule set of ``digest.rendering.sanitise``; one longer than
``SUMMARY_LIMIT`` characters becomes a plain teaser in both parts.

Pure functions: nothing here imports the rest of the project but its pure rendering helpers.
"""

from __future__ import annotations

import html as html_lib

from digest.rendering.sanitise import email_fragment
from digest.rendering.text import clip, html_paragraphs

SUMMARY_LIMIT = 320  # characters of text; a longer summary is cut to a teaser
TEASER_LIMIT = 240


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
