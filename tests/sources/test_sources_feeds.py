"""RSS/Atom parsing from bytes into Entry records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sources.entry import ParseError
from sources.feeds import looks_like_html, parse_feed, repair_utf8
from tests.feedserver import FIXTURES

RSS_TYPE = {"content-type": "application/rss+xml"}


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "titles"),
    [
        ("rss091.xml", ["Old format story one", "Old format story two"]),
        ("rss10.rdf", ["RDF story A", "RDF story B"]),
        ("rss2.rss", ["Textile cluster & partners launch circular fashion hub",
                      "Second story: a hydrogen valley for the North Sea ports",
                      "Third story: matchmaking results published"]),
        ("atom03.xml", ["Atom 0.3 entry"]),
        ("atom10.atom", ["Mechatronics cluster wins <em>European</em> innovation award",
                         "Agrifood cluster reaches 500 members"]),
    ],
)  # fmt: skip
def test_every_supported_format(name, titles) -> None:
    parsed = parse_feed(read(name), {"content-type": "application/xml"}, "https://feeds.example.org/" + name)

    assert [entry.title for entry in parsed.entries] == titles
    assert parsed.warnings == []


def test_rss_entry_fields() -> None:
    parsed = parse_feed(read("rss2.rss"), RSS_TYPE, "http://127.0.0.1:1/rss2.rss")
    first = parsed.entries[0]

    assert parsed.base_url == "https://news.example.org/"
    assert first.guid == "news-0001"
    assert first.published == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert first.categories == [("Italy", "country"), ("Tuscany Fashion Cluster", "organisation"),
                                ("Textiles", None), ("Circular Economy", None)]  # fmt: skip
    assert first.author == "Maria Rossi" and not first.author_is_organisation
    assert first.image == "https://news.example.org/images/hub-large.jpg"
    assert 'href="/articles/prato-map"' in first.summary_html  # resolved later, against the entry link
    assert parsed.entries[1].image == "https://news.example.org/images/h2.jpg"


def test_atom_author_and_xml_base() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/dir/"><title>t</title>'
        b"<entry><id>1</id><title>x</title><link href='rel'/><author><name>Cluster Y</name></author>"
        b'<content type="html">&lt;a href="foo"&gt;x&lt;/a&gt;</content></entry></feed>'
    )

    [entry] = parse_feed(body, {"content-type": "application/atom+xml"}, "http://127.0.0.1/feed").entries

    assert entry.link == "https://base.example/dir/rel"
    assert entry.content_base == "https://base.example/dir/"
    assert entry.author == "Cluster Y" and entry.author_is_organisation


def test_our_namespace_whatever_its_prefix() -> None:
    body = (
        b'<rss version="2.0" xmlns:dl="https://clusterdigest.eu/ns/1.0"><channel><title>t</title>'
        b"<item><title>Call</title><dl:deadline>2027-01-31</dl:deadline><dl:organisation>Org A</dl:organisation>"
        b"<dl:country>Malta</dl:country></item></channel></rss>"
    )

    [entry] = parse_feed(body, RSS_TYPE, "https://x.example/").entries

    assert (entry.deadline_text, entry.organisation, entry.country) == ("2027-01-31", "Org A", "Malta")


def test_rss_event_module() -> None:
    [entry] = parse_feed(read("dates.rss"), RSS_TYPE, "https://x.example/").entries[3:]

    assert entry.is_event and entry.location == "Lyon, France"
    assert entry.starts_at == datetime(2027, 6, 15, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"", RSS_TYPE, "empty response"),
        (b"  \n ", RSS_TYPE, "empty response"),
        (read("page.html"), {"content-type": "text/html"}, "not a feed: got an HTML page"),
        (read("page.html"), RSS_TYPE, "not a feed: got an HTML page"),
        (read("garbage.xml"), RSS_TYPE, "not a feed: the XML is malformed"),
        (b'{"json": "instead"}', {"content-type": "application/json"}, "not a feed"),
        (b"/etc/passwd", RSS_TYPE, "not a feed"),  # never opened as a path
    ],
)
def test_not_a_feed(body, headers, message) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed(body, headers, "https://x.example/")


def test_looks_like_html() -> None:
    assert looks_like_html(b"\xef\xbb\xbf<!-- x -->\n<!DOCTYPE html><html>", {})
    assert looks_like_html(b"<rss/>", {"content-type": "text/html; charset=utf-8"})
    assert not looks_like_html(b"<?xml version='1.0'?><rss/>", RSS_TYPE)


def test_repair_utf8() -> None:
    declared = b'<?xml version="1.0" encoding="utf-8"?><t>\xc3\xa9 \xff</t>'
    assert repair_utf8(declared, {}) == ('<?xml version="1.0" encoding="utf-8"?><t>é \ufffd</t>'.encode(), 1)
    latin = "<t>Café Zürich</t>".encode("cp1252")
    assert repair_utf8(latin, {}) == (latin, 0)  # undeclared and no valid UTF-8: feedparser's fallback reads it
    assert repair_utf8(latin, {"content-type": "text/xml; charset=windows-1252"}) == (latin, 0)
    assert repair_utf8(b"<t>plain</t>", {}) == (b"<t>plain</t>", 0)


def test_guids_are_kept_as_written_and_relative_links_point_into_the_site() -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><link>https://site.example/news/</link>'
        b"<item><title>x</title><guid>abc-1</guid><link>/news/x</link></item></channel></rss>"
    )

    parsed = parse_feed(body, RSS_TYPE, "https://proxy.example/feeds/site.rss")

    [entry] = parsed.entries
    assert entry.guid == "abc-1"  # not resolved against the address the feed was fetched from
    assert parsed.base_url == "https://site.example/news/"
    assert entry.link == "/news/x"  # sources.normalise makes it absolute against base_url
