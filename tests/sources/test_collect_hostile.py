"""Bad input the collector must survive, served by a real local HTTP server.

In every case: a clear error recorded on the source (or a warning when entries could still be
read), the other sources collected, and nothing dangerous stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from digest.db import transaction
from digest.models import Source
from sources.collector import CollectResult, collect
from tests.feedserver import (
    FeedServer,
    big_body,
    endless_body,
    fixture,
    gzip_bomb,
    never_answers,
    redirect,
    slow_trickle,
    status,
)
from tests.sources.helpers import FAST, NOW, add_source, by_name, items_of, source_row

MIB = 1024 * 1024
DANGEROUS = re.compile(
    r"<\s*(script|iframe|style|object|embed|svg|form|input|frame|math)\b|\bon[a-z]+\s*=|javascript:|vbscript:"
    r"|data:text|srcdoc",
    re.IGNORECASE,
)


def run_with_good_neighbour(runtime, server: FeedServer, name: str, path: str, behaviour, **settings) -> dict:
    add_source(runtime, "good", server.route("/good.rss", fixture("rss2.rss")), "news")
    add_source(runtime, name, server.route(path, behaviour), "auto")
    results = by_name(collect(runtime, now=NOW, settings=FAST.model_copy(update=settings)))
    assert results["good"].status == "ok" and results["good"].new == 3, results["good"]
    assert_nothing_dangerous(runtime)
    return results


def assert_nothing_dangerous(runtime) -> None:
    for item in items_of(runtime):
        assert "<" not in item.title and ">" not in item.title, item.title
        for text in (item.title, item.summary, item.url or "", item.image_url or ""):
            assert not DANGEROUS.search(text), text
            assert "\x00" not in text
        for url in (item.url, item.image_url):
            assert url is None or url.startswith(("http://", "https://"))


def assert_error_recorded(runtime, name: str, fragment: str) -> Source:
    source = source_row(runtime, name)
    assert source.last_status == "error"
    assert source.last_error and fragment in source.last_error, source.last_error
    assert source.consecutive_errors == 1
    assert source.next_fetch_at is not None and source.next_fetch_at > NOW
    assert source.last_fetch_at == NOW
    return source


FAILURES = [
    ("html", fixture("page.html"), "not a feed: got an HTML page"),
    ("empty", fixture("empty.rss"), "empty response"),
    ("garbage", fixture("garbage.xml"), "not a feed: the XML is malformed"),
    ("gone404", status(404), "HTTP 404 Not Found"),
    ("gone410", status(410), "HTTP 410 Gone"),
    ("broken500", status(500), "HTTP 500 Internal Server Error"),
    ("silent", never_answers, "timed out after 1 s"),
    ("huge", big_body(50 * MIB), "response too large: 50 MiB (the limit is 2 MiB)"),
    ("endless", endless_body, "response too large: more than 2 MiB"),
    ("bomb", gzip_bomb(128 * MIB), "response too large: more than 2 MiB"),
    ("trickle", slow_trickle(0.1), "download took longer than 1.5 s"),
    ("to-file", redirect("file:///etc/passwd"), "refused a redirect to a non-HTTP address"),
]


@pytest.mark.parametrize(("name", "behaviour", "fragment"), FAILURES, ids=[case[0] for case in FAILURES])
def test_failing_source_records_a_clear_error(runtime, feed_server, name, behaviour, fragment) -> None:
    results = run_with_good_neighbour(runtime, feed_server, name, f"/{name}", behaviour, total_timeout=1.5)

    assert results[name].status == "error"
    assert fragment in (results[name].error or "")
    assert results[name].new == 0
    assert_error_recorded(runtime, name, fragment)
    assert items_of(runtime, name) == []
    assert_nothing_dangerous(runtime)


def test_html_page_error_names_the_feed_it_advertises(runtime, feed_server) -> None:
    run_with_good_neighbour(runtime, feed_server, "html", "/page", fixture("page.html"))

    assert source_row(runtime, "html").last_error == (
        "not a feed: got an HTML page (it links to a feed at https://site.example.org/feed.xml)"
    )


def test_redirect_loop(runtime, feed_server) -> None:
    feed_server.route("/loop-b", redirect("/loop-a"))

    results = run_with_good_neighbour(runtime, feed_server, "loop", "/loop-a", redirect("/loop-b"))

    assert results["loop"].status == "error"
    assert_error_recorded(runtime, "loop", "redirect loop")


def test_more_than_five_redirects(runtime, feed_server) -> None:
    for hop in range(1, 8):
        feed_server.route(f"/hop{hop}", redirect(f"/hop{hop + 1}"))
    feed_server.route("/hop8", fixture("rss2.rss"))

    results = run_with_good_neighbour(runtime, feed_server, "hops", "/hop0", redirect("/hop1"))

    assert results["hops"].error == "too many redirects (more than 5)"
    assert_error_recorded(runtime, "hops", "too many redirects")
    assert feed_server.requests_for("/hop8") == []


def test_connection_refused(runtime, feed_server) -> None:
    add_source(runtime, "good", feed_server.route("/good.rss", fixture("rss2.rss")), "news")
    add_source(runtime, "closed", "http://127.0.0.1:9/feed.rss", "news")

    results = by_name(collect(runtime, now=NOW, settings=FAST))

    assert results["good"].new == 3
    assert_error_recorded(runtime, "closed", "could not connect")


def test_malformed_xml_that_still_yields_entries_is_collected_with_a_warning(runtime, feed_server) -> None:
    results = run_with_good_neighbour(runtime, feed_server, "malformed", "/malformed.rss", fixture("malformed.rss"))

    result = results["malformed"]
    assert result.status == "ok" and result.new == 2 and result.error is None
    assert any("not well-formed" in warning for warning in result.warnings)
    source = source_row(runtime, "malformed")
    assert source.last_status == "ok" and source.last_error is None
    titles = sorted(item.title for item in items_of(runtime, "malformed"))
    assert titles == ["First entry survives & unescaped ampersand", "Second entry"]


CHARSETS = [
    ("cp1252", "windows1252.rss", "application/rss+xml; charset=windows-1252",
     "Café – Zürich cluster raises €2m “seed” fund", None),
    ("cp1252-undeclared", "windows1252.rss", "application/rss+xml",
     "Café – Zürich cluster raises €2m “seed” fund", "wrong or missing charset"),
    ("latin1", "latin1.rss", "application/rss+xml; charset=iso-8859-1",
     "São Paulo and München clusters sign agreement ½", None),
    ("bad-utf8", "badbytes.rss", "application/rss+xml; charset=utf-8",
     "Good élève then bad: \ufffd\ufffd\ufffd(", "invalid UTF-8 byte sequences replaced"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "file", "content_type", "title", "warning"), CHARSETS, ids=[c[0] for c in CHARSETS])
def test_wrong_or_missing_charsets(runtime, feed_server, name, file, content_type, title, warning) -> None:
    results = run_with_good_neighbour(runtime, feed_server, name, f"/{name}", fixture(file, content_type))

    assert results[name].status == "ok"
    assert title in [item.title for item in items_of(runtime, name)]
    if warning:
        assert any(warning in text for text in results[name].warnings), results[name].warnings
    else:
        assert results[name].warnings == []


def collect_again(runtime, name: str) -> CollectResult:
    """Collect the source again with its validators forgotten, so that the same body is parsed again."""
    with transaction(runtime.sessions) as session:
        source = session.query(Source).filter_by(name=name).one()
        source.etag = source.last_modified = source.content_hash = None
    [again] = collect(runtime, name, now=NOW, settings=FAST)
    return again


def test_entries_without_guid_link_or_date(runtime, feed_server) -> None:
    results = run_with_good_neighbour(runtime, feed_server, "bare", "/bare.rss", fixture("bare.rss"))

    assert results["bare"].status == "ok" and results["bare"].fetched == 4 and results["bare"].new == 3
    items = items_of(runtime, "bare")
    assert {item.title for item in items} == {
        "No guid, no link, no date",
        "No title at all, only a description that becomes the title.",
        "Another bare entry",
    }
    assert all(item.url is None and item.guid is None and item.published_at is None for item in items)
    assert all(item.collected_at == NOW for item in items)

    again = collect_again(runtime, "bare")
    assert (again.new, again.duplicates, again.updated) == (0, 3, 0)


def test_one_guid_repeated_for_every_entry(runtime, feed_server) -> None:
    results = run_with_good_neighbour(runtime, feed_server, "same", "/sameguid.rss", fixture("sameguid.rss"))

    assert results["same"].new == 4
    assert len({item.dedup_key for item in items_of(runtime, "same")}) == 4

    again = collect_again(runtime, "same")
    assert (again.new, again.duplicates, again.updated) == (0, 4, 0)


def test_one_guid_and_one_link_for_every_entry(runtime, feed_server) -> None:
    results = run_with_good_neighbour(runtime, feed_server, "home", "/samelink.rss", fixture("samelink.rss"))

    assert results["home"].new == 3

    again = collect_again(runtime, "home")
    assert (again.new, again.duplicates) == (0, 3)


def test_future_and_far_past_dates(runtime, feed_server) -> None:
    run_with_good_neighbour(runtime, feed_server, "dates", "/dates.rss", fixture("dates.rss"))

    items = {item.title: item for item in items_of(runtime, "dates")}
    assert items["From the far future"].published_at == NOW  # a pubDate in 2100 is a feed error
    assert items["From the far past"].published_at is None  # 1970: no real date
    assert items["Unparseable date"].published_at is None
    summit = items["Summit on regional innovation"]
    assert summit.kind == "event"
    assert summit.starts_at == datetime(2027, 6, 15, 7, 0, tzinfo=UTC)  # a future event date stays
    assert summit.ends_at == datetime(2027, 6, 16, 15, 0, tzinfo=UTC)
    assert summit.location == "Lyon, France"


def test_script_iframe_and_onerror_payloads_are_not_stored(runtime, feed_server) -> None:
    results = run_with_good_neighbour(runtime, feed_server, "hostile", "/hostile.rss", fixture("hostile.rss"))

    assert results["hostile"].status == "ok" and results["hostile"].new == 2
    assert_nothing_dangerous(runtime)
    first, second = items_of(runtime, "hostile")
    assert first.title == "Cluster news"
    assert first.url is None  # the link was javascript:
    assert '<img src="https://evil.example.org/pixel.gif">' in first.summary
    assert 'href="https://evil.example.org/relative/page?ok=1"' in first.summary
    assert 'rel="noopener noreferrer nofollow"' in first.summary
    assert second.title == "Double escaped title"
    assert "Plain text" in second.summary


def test_entity_expansion_bomb_and_external_entities_are_not_expanded(runtime, feed_server) -> None:
    results = run_with_good_neighbour(runtime, feed_server, "bomb", "/xmlbomb.rss", fixture("xmlbomb.rss"))

    assert results["bomb"].status == "ok"
    [stored] = items_of(runtime, "bomb")
    assert len(stored.title) < 100 and len(stored.summary) < 100
    assert "root:" not in stored.summary
    assert_nothing_dangerous(runtime)
