"""The fetcher's local transports (file://, sample://) and its error wording."""

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


def test_file_url_is_served_with_validators(session, tmp_path) -> None:
    path = tmp_path / "local feed.rss"
    path.write_bytes(b"<rss version='2.0'><channel><title>x</title></channel></rss>")

    first = fetch(session, path.as_uri(), SETTINGS)
    again = fetch(session, path.as_uri(), SETTINGS, etag=first.etag)

    assert first.status == 200 and first.body.startswith(b"<rss")
    assert first.headers["content-type"] == "application/rss+xml"
    assert first.last_modified
    assert again.not_modified and again.body == b""


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///nonexistent/feed.rss", "file not found: /nonexistent/feed.rss"),
        ("file://otherhost/feed.rss", "file:// addresses must be local"),
        ("file:///", "not a file: /"),
        ("sample://nothing.rss", "no bundled sample feed 'nothing.rss'"),
        ("gopher://example.org/feed", "not a feed address this collector can read"),
        ("http://", "invalid URL"),
    ],
)
def test_unreadable_addresses(session, url, message) -> None:
    with pytest.raises(FetchError, match=message):
        fetch(session, url, SETTINGS)


def test_file_body_cap_applies(session, tmp_path) -> None:
    path = tmp_path / "big.rss"
    path.write_bytes(b" " * (2 * 1024 * 1024))

    with pytest.raises(FetchError, match="response too large: more than 1 MiB"):
        fetch(session, path.as_uri(), SETTINGS)


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
