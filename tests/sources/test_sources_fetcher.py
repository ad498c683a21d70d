"""The fetcher's sample:// transport, the schemes it refuses, and its error wording."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from digest.config import CollectConfig
from sources import samples
from sources.fetcher import FetchError, build_session, describe_request_error, fetch, format_bytes, parse_retry_after

SETTINGS = CollectConfig(connect_timeout=2, read_timeout=2, max_body_bytes=1024 * 1024)


@pytest.fixture
def session() -> requests.Session:
    with build_session(SETTINGS) as session:
        yield session


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "refused: only http://, https:// and sample:// sources are fetched, not file://"),
        ("file://otherhost/feed.rss", "not file://"),
        ("sample://nothing.rss", "no bundled sample feed 'nothing.rss'"),
        ("gopher://example.org/feed", "not gopher://"),
        ("http://", "invalid URL"),
    ],
)
def test_unreadable_addresses(session, url, message) -> None:
    with pytest.raises(FetchError, match=message):
        fetch(session, url, SETTINGS)


@pytest.mark.parametrize("name", samples.SAMPLE_NAMES)
def test_sample_feeds_are_served_with_an_etag(session, name) -> None:
    first = fetch(session, f"sample://{name}", SETTINGS)
    again = fetch(session, f"sample://{name}", SETTINGS, etag=first.etag)

    assert first.status == 200 and first.body
    assert first.headers["content-type"].startswith(samples.sample_content_type(name))
    assert again.not_modified


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Sat, 21 Nov 2026 13:00:00 GMT", now) == 3600
    assert parse_retry_after("Sat, 21 Nov 2026 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_error_wording() -> None:
    assert describe_request_error(requests.ConnectTimeout(), SETTINGS) == "could not connect: timed out after 2 s"
    assert describe_request_error(requests.ReadTimeout(), SETTINGS) == "timed out after 2 s waiting for the server"
    assert format_bytes(15 * 1024 * 1024) == "15 MiB"
    assert format_bytes(1536) == "1.5 KiB"
