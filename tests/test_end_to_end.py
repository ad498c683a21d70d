"""The thin path from feed to outbox, driven through the real command line:
init --demo, collect, approve, edition create, edition send, worker --drain, then the .eml files."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from tests.cli import digest, digest_json
from tests.feedserver import serving_folder

FIXTURES = Path(__file__).parent / "testdata"


@pytest.fixture
def feed_server() -> Iterator[str]:
    """A real HTTP server serving tests/testdata/."""
    with serving_folder(FIXTURES) as url:
        yield url


def read_outbox(folder: Path) -> list[EmailMessage]:
    return [BytesParser(policy=policy.default).parsebytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert text is not None and rich is not None
    return text.get_content(), rich.get_content()


def test_feed_to_outbox(write_config: Callable[..., Path], tmp_path: Path, feed_server: str) -> None:
    config = write_config(
        sources=[
            {"name": "Test news", "url": f"{feed_server}/news.rss", "kind": "news"},
            {"name": "Sample events", "url": "sample://events.ics", "kind": "event"},
        ]
    )
    init = digest("init", "--demo", config=config)
    assert "admin editor admin@example.org with password" in init.stdout
    digest("subscribers", "add", "waiting@example.org", "--name", "Not Yet Confirmed", config=config)

    collected = digest_json("collect", config=config)
    assert {row["source"] for row in collected} == {"Test news", "Sample events"}
    assert all(row["status"] in ("ok", "not_modified") and row["error"] is None for row in collected)

    pending = digest_json("queue", "list", "--status", "pending", config=config)
    news = [item for item in pending if item["source"] == "Test news"]
    assert len(news) == 3
    assert next(i for i in news if i["title"].startswith("Silicon"))["url"] == (
        "https://clusters.example.eu/news/silicon-saxony-members"
    )
    # The weekly digest takes events starting within the next 60 days (issue 5): choose from those.
    soon = (datetime.now(UTC) + timedelta(days=1), datetime.now(UTC) + timedelta(days=59))
    starting_soon = [
        item for item in pending if item["starts_at"] and soon[0] < datetime.fromisoformat(item["starts_at"]) < soon[1]
    ]
    events = [item for item in starting_soon if item["kind"] == "event"][:4]
    chosen = news + events
    digest("queue", "approve", *[str(item["id"]) for item in chosen], config=config)

    edition = digest_json("edition", "create", "--type", "digest", config=config)
    assert edition["status"] == "draft"
    assert sorted(edition["items"]) == sorted(item["id"] for item in chosen)

    sent = digest("edition", "send", str(edition["id"]), config=config)
    assert "5 deliveries queued" in sent.stdout
    digest("worker", "--drain", config=config)

    messages = read_outbox(tmp_path / "var" / "outbox")
    active = digest_json("subscribers", "list", "--status", "active", config=config)
    assert sorted(str(m["To"].addresses[0].addr_spec) for m in messages) == sorted(s["email"] for s in active)
    assert len(messages) == len(active) == 5

    for message in messages:
        for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
            assert message[header], header
        assert message["List-Unsubscribe-Post"] is None  # one-click (RFC 8058) only with an https base_url
        assert message["List-Unsubscribe"].startswith("<http://digest.test/unsubscribe/")
        assert message["Subject"] == edition["subject"]
        text, rich = parts(message)
        assert "<html" in rich and 'lang="en"' in rich
        for item in chosen:
            assert item["title"] in text, item["title"]
            assert item["title"] in html.unescape(rich), item["title"]
        unsubscribe = message["List-Unsubscribe"].strip("<>")
        assert unsubscribe in rich and unsubscribe in text
        assert "XDIGESTX" not in rich and "XDIGESTX" not in text
    assert len({m["Message-ID"] for m in messages}) == 5
    assert len({m["List-Unsubscribe"] for m in messages}) == 5

    [listed] = digest_json("edition", "list", config=config)
    assert listed["status"] == "sent"
    assert listed["counts"]["sent"] == 5 and listed["counts"]["queued"] == 0
    published = digest_json("queue", "list", "--status", "published", config=config)
    assert sorted(i["id"] for i in published) == sorted(item["id"] for item in chosen)


def test_json_listings_are_json_arrays_and_nothing_else(write_config: Callable[..., Path]) -> None:
    config = write_config(sources=[{"name": "Sample calls", "url": "sample://calls.rss", "kind": "call"}])
    digest("init", config=config)
    assert digest_json("queue", "list", config=config) == []
    assert digest_json("edition", "list", config=config) == []
    digest("collect", config=config)
    items = digest_json("queue", "list", config=config)
    assert len(items) >= 10
    required = {
        "id",
        "kind",
        "status",
        "title",
        "summary",
        "url",
        "source",
        "organisation",
        "country",
        "published_at",
        "starts_at",
        "ends_at",
        "location",
        "deadline",
        "featured",
    }
    for item in items:
        assert required <= item.keys()
        assert item["kind"] == "call" and item["source"] == "Sample calls"
    assert all(item["deadline"] for item in items)
    digest("queue", "approve", str(items[0]["id"]), config=config)
    digest("edition", "create", "--type", "newsletter", "--title", "November newsletter", config=config)
    [edition] = digest_json("edition", "list", config=config)
    assert {"id", "type", "status", "title", "subject", "slug", "scheduled_at", "sent_at", "items", "counts"} <= (
        edition.keys()
    )
    assert (edition["type"], edition["title"], edition["items"]) == (
        "newsletter",
        "November newsletter",
        [items[0]["id"]],
    )
    assert edition["counts"] == {"queued": 0, "sending": 0, "sent": 0, "failed": 0, "bounced": 0, "complained": 0}
