"""The one HTML-to-text conversion (email text part, collectors, archive)."""

from __future__ import annotations

from digest.rendering.text import clip, html_paragraphs, html_to_text

FRAGMENT = '<p>Deadline:<br>31&nbsp;Dec</p><ul><li>One <a href="https://x.test/a?b=1&amp;c=2">link</a></li></ul>'


def test_paragraphs_with_links_and_bullets_or_as_one_line() -> None:
    assert html_paragraphs(FRAGMENT) == ["Deadline:", "31 Dec", "One link"]
    assert html_paragraphs(FRAGMENT, links=True, bullets=True) == [
        "Deadline:",
        "31 Dec",
        "- One link (https://x.test/a?b=1&c=2)",
    ]
    assert html_to_text(FRAGMENT) == "Deadline: 31 Dec One link"
    assert html_to_text(None) == "" and html_paragraphs("") == []
    assert clip("one two three", 8) == "one two…"
