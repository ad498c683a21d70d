"""Stored XSS in the public Atom feed (issue 13, item 4): an edition's introduction is Markdown; the
editions feed, served and exported, carries it rendered and sanitised as the archive page does, never raw."""

from __future__ import annotations

from pathlib import Path

import feedparser
import lxml.html
import pytest
from lxml import etree

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.editions.lifecycle import create_edition
from digest.runtime import Runtime
from digest.web import create_app
from tests.archive.helpers import at
from tests.cli import digest
from tests.factories import make_item

ATOM = "{http://www.w3.org/2005/Atom}"
INTRO = (
    "Dear **readers**, see [our site](https://clusters.example.eu/).\n\n"
    "<script>alert(1)</script>\n\n"
    '<img src="x" onerror="alert(2)">\n\n'
    '[click me](javascript:alert(3)) and <a href="javascript:alert(4)" onclick="alert(5)">there</a>\n'
)


@pytest.fixture
def sent(runtime: Runtime) -> str:
    """A sent newsletter whose introduction tries every trick; its slug."""
    when = at(2026, 9, 3)
    with runtime.sessions() as session, session.begin():
        make_item(session, "Hydrogen valleys network grows", summary="<p>Twelve <b>regions</b> join.</p>")
        made = create_edition(session, runtime.config, SYSTEM, "newsletter", title="September", intro=INTRO, now=when)
        edition = made.require()
        assert start_sending(session, runtime.config, edition.id, now=when) == 0  # nobody subscribed: sent at once
        return edition.slug


def assert_intro_rendered_and_clean(feed_xml: bytes) -> None:
    assert not feedparser.parse(feed_xml).bozo
    [content] = etree.fromstring(feed_xml).iter(f"{ATOM}content")
    assert content.get("type") == "html"
    body = lxml.html.fragment_fromstring(content.text, create_parent="div")
    assert not body.xpath("//script|//img|//iframe")
    assert not [name for element in body.iter() for name in element.attrib if name.lower().startswith("on")]
    hrefs = body.xpath("//a/@href")
    assert not [href for href in hrefs if not href.startswith(("https://", "http://"))], hrefs
    # The Markdown is rendered, and the text of what was refused stays readable as text.
    assert body.xpath("//strong/text()")[:1] == ["readers"]
    assert "https://clusters.example.eu/" in hrefs
    assert "<script>alert(1)</script>" in body.text_content()
    assert "Hydrogen valleys network grows" in body.text_content()


def test_the_served_feed_renders_and_sanitises_the_intro(runtime: Runtime, sent: str) -> None:
    response = create_app(runtime).test_client().get("/archive/feed.xml")
    assert response.status_code == 200
    assert_intro_rendered_and_clean(response.data)


def test_the_exported_feed_renders_and_sanitises_the_intro(runtime: Runtime, sent: str, tmp_path: Path) -> None:
    out = tmp_path / "site"
    digest("archive", "build", "--out", str(out), config=runtime.config.path)
    assert_intro_rendered_and_clean((out / "archive/feed.xml").read_bytes())
