"""HTTP behaviour of the collector: conditional GET, gzip, redirects, Retry-After, backoff, concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from email.utils import format_datetime

import pytest

from sources.collector import CollectResult, collect
from sources.settings import DEFAULT_USER_AGENT
from tests.feedserver import FIXTURES, Handler, body, fixture, gzipped, redirect, status
from tests.sources.helpers import FAST, NOW, add_source, by_name, items_of, source_row

RSS = (FIXTURES / "rss2.rss").read_bytes()


def test_conditional_get_sends_validators_and_a_304_parses_nothing(runtime, feed_server) -> None:
    url = feed_server.route("/feed.rss", fixture("rss2.rss"))
    add_source(runtime, "feed", url, "news")
    collect(runtime, now=NOW, settings=FAST)
    etag = source_row(runtime, "feed").etag

    [result] = collect(runtime, now=NOW + timedelta(hours=1), settings=FAST)

    first, second = feed_server.requests_for("/feed.rss")
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"] == etag
    assert second.headers["if-modified-since"] == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.as_json() == {
        "source": "feed", "status": "not_modified", "fetched": 0, "new": 0, "duplicates": 0, "updated": 0,
        "error": None,
    }  # fmt: skip
    source = source_row(runtime, "feed")
    assert source.last_status == "not_modified" and source.last_fetch_at == NOW + timedelta(hours=1)


def test_unchanged_body_without_validators_is_not_parsed_again(runtime, feed_server) -> None:
    add_source(runtime, "plain", feed_server.route("/plain.rss", fixture("rss2.rss", conditional=False)), "news")
    collect(runtime, now=NOW, settings=FAST)

    [result] = collect(runtime, now=NOW, settings=FAST)

    assert result.status == "not_modified" and result.fetched == 0
    assert len(items_of(runtime)) == 3


def test_headers_sent_and_gzip_decoded(runtime, feed_server) -> None:
    add_source(runtime, "zipped", feed_server.route("/z.rss", gzipped(RSS)), "news")

    [result] = collect(runtime, now=NOW, settings=FAST)

    assert result.status == "ok" and result.new == 3
    [seen] = feed_server.requests_for("/z.rss")
    assert seen.headers["user-agent"] == DEFAULT_USER_AGENT
    assert "gzip" in seen.headers["accept-encoding"]
    assert "application/rss+xml" in seen.headers["accept"]


def test_permanent_redirect_updates_the_stored_url(runtime, feed_server) -> None:
    target = feed_server.route("/new-home.rss", fixture("rss2.rss"))
    add_source(runtime, "moved", feed_server.route("/old.rss", redirect("/new-home.rss", 301)), "news")

    [result] = collect(runtime, now=NOW, settings=FAST)

    assert result.status == "ok" and result.new == 3
    assert source_row(runtime, "moved").url == target


@pytest.mark.parametrize("code", [302, 303, 307])
def test_temporary_redirect_keeps_the_stored_url(runtime, feed_server, code) -> None:
    feed_server.route("/elsewhere.rss", fixture("rss2.rss"))
    url = feed_server.route("/here.rss", redirect("/elsewhere.rss", code))
    add_source(runtime, "visiting", url, "news")

    [result] = collect(runtime, now=NOW, settings=FAST)

    assert result.status == "ok"
    assert source_row(runtime, "visiting").url == url


def test_permanent_then_temporary_redirect_keeps_the_url(runtime, feed_server) -> None:
    feed_server.route("/b.rss", redirect("/c.rss", 302))
    feed_server.route("/c.rss", fixture("rss2.rss"))
    url = feed_server.route("/a.rss", redirect("/b.rss", 308))
    add_source(runtime, "chain", url, "news")

    collect(runtime, now=NOW, settings=FAST)

    assert source_row(runtime, "chain").url == url


def test_429_retry_after_seconds_is_honoured(runtime, feed_server) -> None:
    add_source(runtime, "busy", feed_server.route("/busy", status(429, Retry_After="7200")), "news")

    [result] = collect(runtime, now=NOW, settings=FAST)

    assert result.error == "HTTP 429 Too Many Requests (retry after 7200 s)"
    source = source_row(runtime, "busy")
    assert source.next_fetch_at >= NOW + timedelta(seconds=7200)  # longer than the 1 h backoff cap
    assert collect(runtime, due_only=True, now=NOW + timedelta(seconds=3600), settings=FAST) == []


def test_503_retry_after_http_date_is_honoured(runtime, feed_server) -> None:
    when = format_datetime(NOW + timedelta(hours=3), usegmt=True)
    add_source(runtime, "maintenance", feed_server.route("/m", status(503, Retry_After=when)), "news")

    collect(runtime, now=NOW, settings=FAST)

    source = source_row(runtime, "maintenance")
    assert source.last_error.startswith("HTTP 503 Service Unavailable (retry after")
    assert source.next_fetch_at >= NOW + timedelta(hours=2, minutes=59)


def test_backoff_grows_with_jitter_is_capped_and_resets_on_success(runtime, feed_server) -> None:
    state = {"behaviour": status(500)}
    feed_server.route("/flaky", lambda handler: state["behaviour"](handler))
    add_source(runtime, "flaky", feed_server.url("/flaky"), "news")
    settings = FAST.model_copy(update={"backoff_base_seconds": 60, "backoff_cap_seconds": 600, "jitter": 0.2})

    delays = []
    for attempt in range(1, 8):
        collect(runtime, now=NOW, settings=settings)
        source = source_row(runtime, "flaky")
        assert source.consecutive_errors == attempt
        delays.append((source.next_fetch_at - NOW).total_seconds())

    assert 48 <= delays[0] <= 72 and 96 <= delays[1] <= 144 and 192 <= delays[2] <= 288
    assert all(delay <= 600 for delay in delays)  # capped, never disabled
    assert source_row(runtime, "flaky").enabled

    state["behaviour"] = fixture("rss2.rss")
    [result] = collect(runtime, now=NOW, settings=settings)
    source = source_row(runtime, "flaky")
    assert result.status == "ok"
    assert (source.consecutive_errors, source.last_error, source.last_status) == (0, None, "ok")
    assert source.next_fetch_at is None


def test_due_only_skips_a_source_in_backoff(runtime, feed_server) -> None:
    add_source(runtime, "down", feed_server.route("/down", status(500)), "news")
    add_source(runtime, "up", feed_server.route("/up.rss", fixture("rss2.rss")), "news")
    collect(runtime, now=NOW, settings=FAST)

    later = collect(runtime, due_only=True, now=NOW + timedelta(seconds=1), settings=FAST)

    assert [result.source for result in later] == ["up"]
    retry_at = source_row(runtime, "down").next_fetch_at
    assert [r.source for r in collect(runtime, due_only=True, now=retry_at, settings=FAST)] == ["down", "up"]


def test_a_slow_source_does_not_hold_the_others_up(runtime, feed_server) -> None:
    fast_stored = threading.Event()

    def slow(handler: Handler) -> None:
        # Answers only once the fast source has been stored: a sequential collector would time out here.
        fast_stored.wait(5)
        fixture("atom10.atom")(handler)

    add_source(runtime, "a-slow", feed_server.route("/slow", slow), "news")
    add_source(runtime, "b-fast", feed_server.route("/fast.rss", fixture("rss2.rss")), "news")
    order: list[str] = []

    def arrived(result: CollectResult) -> None:
        order.append(result.source)
        if result.source == "b-fast":
            fast_stored.set()

    patient = FAST.model_copy(update={"read_timeout": 10})
    results = by_name(collect(runtime, now=NOW, settings=patient, on_result=arrived))

    assert order == ["b-fast", "a-slow"]
    assert results["a-slow"].status == "ok" and results["b-fast"].status == "ok"


def test_results_come_back_in_source_name_order(runtime, feed_server) -> None:
    for name in ("c", "a", "b"):
        add_source(runtime, name, feed_server.route(f"/{name}.rss", body(RSS)), "news")

    assert [result.source for result in collect(runtime, now=NOW, settings=FAST)] == ["a", "b", "c"]


def test_parsing_in_separate_processes_gives_the_same_items(runtime, feed_server) -> None:
    add_source(runtime, "rss", feed_server.route("/rss2.rss", fixture("rss2.rss")), "news")
    add_source(runtime, "atom", feed_server.route("/atom10.atom", fixture("atom10.atom")), "auto")
    add_source(runtime, "bad", feed_server.route("/bad", fixture("page.html")), "auto")

    results = by_name(collect(runtime, now=NOW, settings=FAST.model_copy(update={"parse_processes": 2})))

    assert (results["rss"].new, results["atom"].new) == (3, 2)
    assert results["bad"].error == (
        "not a feed: got an HTML page (it links to a feed at https://site.example.org/feed.xml)"
    )
    assert {item.kind for item in items_of(runtime, "atom")} == {"achievement", "news"}
