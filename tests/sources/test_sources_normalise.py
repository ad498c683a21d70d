"""Normalising: canonical URLs, plain-text titles, sanitised summaries, dates."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sources.entry import Entry
from sources.normalise import (
    build_candidate,
    canonical_url,
    clean_text,
    html_to_text,
    plain_text,
    sane_published,
    sanitise_html,
    to_utc,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BRUSSELS = ZoneInfo("Europe/Brussels")


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        ("https://Example.ORG/a/b?utm_source=x&id=3&utm_medium=y#frag", None, "https://example.org/a/b?id=3"),
        ("HTTP://example.org:80/path", None, "http://example.org/path"),
        ("https://example.org:443", None, "https://example.org/"),
        ("https://example.org:8443/x", None, "https://example.org:8443/x"),
        ("/news/1?fbclid=abc&gclid=z", "https://site.example/feed.xml", "https://site.example/news/1"),
        ("../up", "https://site.example/a/b/c", "https://site.example/a/up"),
        ("  https://example.org/spaced  ", None, "https://example.org/spaced"),
        ("https://example.org/?mc_cid=1&mc_eid=2&page=2", None, "https://example.org/?page=2"),
        ("javascript:alert(1)", None, None),
        ("data:text/html,hi", None, None),
        ("mailto:someone@example.org", None, None),
        ("ftp://example.org/file", None, None),
        ("https://user:secret@example.org/", None, None),
        ("https://exa mple.org:99999/", None, None),
        ("", None, None),
        (None, None, None),
        ("relative/only", None, None),
    ],
)
def test_canonical_url(raw, base, expected) -> None:
    assert canonical_url(raw, base) == expected


def test_canonical_url_refuses_overlong_urls() -> None:
    assert canonical_url("https://example.org/" + "a" * 3000) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Cluster\n\tnews  ", "Cluster news"),
        ("Caf&eacute; &amp; bar &#8211; 5 &lt; 6", "Café & bar – 5 < 6"),
        ("<b>Bold</b> <script>alert(1)</script>title", "Bold title"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;Escaped", "Escaped"),
        ("&amp;lt;img src=x onerror=alert(1)&amp;gt;Twice", "Twice"),
        ("Budget < 5M & growing", "Budget < 5M & growing"),
        ("nul\x00 and \x07bell", "nul and bell"),
        ("", ""),
        (None, ""),
    ],
)
def test_plain_text(raw, expected) -> None:
    assert plain_text(raw) == expected


def test_clean_text_drops_control_characters_but_keeps_text() -> None:
    assert clean_text("a\x00b\x1fc\u00a0d") == "abc d"


def test_sanitise_keeps_a_small_allowlist_with_absolute_links() -> None:
    html = (
        '<div class="x" style="color:red"><h1>Head</h1><p onclick="x()">Text <a href="/p?utm_term=1#sec" '
        'target="_blank">link</a> <img src="img.png" onerror="x()" alt="A"></p>'
        '<iframe src="https://evil.example"></iframe><script>bad()</script><style>p{}</style>'
        '<a href="javascript:alert(1)">js</a><a href="mailto:a@example.org">mail</a></div>'
    )

    cleaned = sanitise_html(html, "https://site.example/news/item")

    assert cleaned == (
        'Head<p>Text <a href="https://site.example/p#sec" rel="noopener noreferrer nofollow">link</a> '
        '<img src="https://site.example/news/img.png" alt="A"></p>'
        '<a rel="noopener noreferrer nofollow">js</a>'
        '<a href="mailto:a@example.org" rel="noopener noreferrer nofollow">mail</a>'
    )


def test_sanitise_without_a_web_base_drops_relative_links() -> None:
    assert sanitise_html('<a href="/x">x</a><img src="y.png">', "sample://news.rss") == (
        '<a rel="noopener noreferrer nofollow">x</a><img>'
    )


def test_sanitise_caps_the_length_and_closes_tags() -> None:
    cleaned = sanitise_html("<p><strong>" + "word " * 5000 + "</strong></p>", None, max_chars=200)

    assert len(cleaned) < 260 and cleaned.endswith("</strong></p>")


def test_html_to_text_keeps_words_apart() -> None:
    assert html_to_text("<p>Deadline:</p><p>31/12/2026</p>") == "Deadline: 31/12/2026"


def test_to_utc_from_every_shape() -> None:
    assert to_utc(time.struct_time((2026, 11, 2, 9, 0, 0, 0, 306, 0))) == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert to_utc(datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=1)))) == datetime(
        2026, 11, 2, 9, 0, tzinfo=UTC
    )
    assert to_utc(datetime(2026, 11, 2, 10, 0)) == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert to_utc(date(2026, 11, 2)) == datetime(2026, 11, 2, tzinfo=UTC)
    assert to_utc("2026-11-02") is None


def test_sane_published() -> None:
    assert sane_published(NOW - timedelta(days=3), NOW) == NOW - timedelta(days=3)
    assert sane_published(NOW + timedelta(hours=2), NOW) == NOW + timedelta(hours=2)  # clock skew
    assert sane_published(NOW + timedelta(days=400), NOW) == NOW
    assert sane_published(datetime(1970, 1, 1, tzinfo=UTC), NOW) is None
    assert sane_published(None, NOW) is None


def candidate(entry: Entry, kind: str = "auto"):
    return build_candidate(entry, source_kind=kind, base="https://site.example/", now=NOW, zone=BRUSSELS,
                           max_summary_chars=20_000)  # fmt: skip


def test_candidate_maps_categories_to_organisation_country_and_topics() -> None:
    entry = Entry(
        title="Story",
        link="/story",
        categories=[
            ("Spain", "country"),
            ("Basque Energy Cluster", "organisation"),
            ("Energy", None),
            ("energy", None),
            ("Wind", "http://example.org/topics/"),
        ],
    )

    result = candidate(entry, "news")

    assert (result.organisation, result.country) == ("Basque Energy Cluster", "Spain")
    assert result.topics == ["Energy", "Wind"]
    assert result.url == "https://site.example/story"


def test_atom_author_is_the_organisation_but_an_rss_author_is_not() -> None:
    assert candidate(Entry(title="A", author="Cluster X", author_is_organisation=True)).organisation == "Cluster X"
    assert candidate(Entry(title="A", author="Jane Doe")).organisation is None


def test_candidate_without_title_or_text_is_dropped() -> None:
    assert candidate(Entry(title="  ", summary_html="<p> </p>")) is None
    assert candidate(Entry(title="", summary_html="<p>Only text here</p>")).title == "Only text here"


def test_candidate_fields_fit_their_columns() -> None:
    entry = Entry(title="T" * 900, guid="g" * 3000, categories=[("C" * 300, "country")], location="L" * 900)

    result = candidate(entry)

    assert len(result.title) == 500 and len(result.country) == 100 and len(result.location) == 500
    assert result.guid.startswith("sha256:") and len(result.guid) == 71


def test_auto_kind_and_deadlines() -> None:
    call = candidate(Entry(title="Funding news", summary_html="<p>Deadline: 31/12/2026</p>"))
    assert call.kind == "call" and call.deadline == datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC)

    event = candidate(Entry(title="Anything", starts_at=NOW + timedelta(days=9), is_event=True))
    assert event.kind == "event" and event.deadline is None

    news = candidate(Entry(title="A report", summary_html="Deadline: 31/12/2026"), "news")
    assert news.kind == "news" and news.deadline is None  # a fixed kind is never second-guessed
