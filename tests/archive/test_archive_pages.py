"""The archive on the web: only sent editions, grouped by year and month, each page with its web
header and meta tags, and never anybody's personal link (checked on every page a reader can reach)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from flask.testing import FlaskClient

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.delivery.worker import Worker
from digest.editions.lifecycle import cancel, create_edition
from digest.models import Delivery
from digest.runtime import Runtime
from digest.web import create_app
from tests.archive.helpers import at, links_of, make_sent_edition, personal_leaks, publish, sent_personal_links
from tests.factories import make_item, make_subscribers


@dataclass
class Archive:
    client: FlaskClient
    september: str
    october: str
    november: str
    draft: str
    cancelled: str
    outbox: Path


@pytest.fixture
def archive(runtime: Runtime) -> Archive:
    september = publish(
        runtime,
        [
            ("Hydrogen valleys network grows", "news", {"organisation": "H2 Valley Cluster", "country": "Spain"}),
            ("Matchmaking days in Lyon", "event"),
        ],
        when=at(2026, 9, 3),
        title="September newsletter",
    )
    # 23:30 UTC on the 15th is already the 16th in Brussels: the archive shows the site's day.
    october = publish(
        runtime,
        [("Battery alliance reaches 100 members", "achievement"), ("Open call for textile SMEs", "call")],
        when=at(2026, 10, 15, 23).replace(minute=30),
        title="October newsletter",
    )
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 2)
    november = publish(runtime, [("Digital innovation hubs meet", "news")], when=at(2026, 11, 5), title="November news")
    with runtime.sessions() as session, session.begin():
        make_item(session, "Announcement still in a draft")
        draft = create_edition(session, runtime.config, SYSTEM, "newsletter", title="Draft newsletter").require().slug
    with runtime.sessions() as session, session.begin():
        make_item(session, "Announcement of a cancelled edition")
        edition = create_edition(session, runtime.config, SYSTEM, "newsletter", title="Cancelled newsletter").require()
        cancel(session, SYSTEM, edition.id)
        cancelled = edition.slug
    return Archive(
        client=create_app(runtime).test_client(),
        september=september,
        october=october,
        november=november,
        draft=draft,
        cancelled=cancelled,
        outbox=runtime.config.outbox_dir,
    )


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_only_sent_editions_are_served_and_listed(archive: Archive) -> None:
    client = archive.client
    for slug in (archive.draft, archive.cancelled, "no-such-edition"):
        assert client.get(f"/archive/{slug}").status_code == 404, slug
    for path in ("/", "/archive/", "/archive/feed.xml", "/archive/items.xml"):
        text = page(client, path)
        assert archive.november in text and archive.september in text, path
        assert archive.draft not in text and "Draft newsletter" not in text, path
        assert archive.cancelled not in text and "Cancelled newsletter" not in text, path
        assert "Announcement" not in text, path
    assert "Nothing published matches" in page(client, "/archive/search?q=announcement")


def test_the_index_groups_editions_by_year_and_month_newest_first(archive: Archive) -> None:
    text = page(archive.client, "/archive/")
    positions = [
        text.index(f'href="/archive/{slug}"') for slug in (archive.november, archive.october, archive.september)
    ]
    assert positions == sorted(positions)
    months = re.findall(r'<h3 class="ar-month" id="m-(\d{4}-\d{2})">(\w+)</h3>', text)
    assert months == [("2026-11", "November"), ("2026-10", "October"), ("2026-09", "September")]
    assert re.findall(r'<h2 class="ar-year">(\d{4})</h2>', text) == ["2026"]
    assert "Fri 16 Oct" in text  # sent 23:30 UTC on the 15th: the 16th in Brussels
    assert "Battery alliance reaches 100 members" in text and "Open call for textile SMEs" in text  # first items


def test_the_index_is_paginated_with_twenty_editions_a_page(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        for number in range(45):
            item = make_item(session, f"Item number {number}")
            make_sent_edition(session, f"edition-{number:02d}", at(2026, 1 + number // 4, 1 + number % 4 * 7), [item])
    client = create_app(runtime).test_client()
    first, second, third = (page(client, f"/archive/?page={n}") for n in (1, 2, 3))
    assert "edition-44" in first and "edition-25" in first and "edition-24" not in first
    assert "edition-24" in second and "edition-05" in second and "edition-44" not in second
    assert "edition-04" in third and "edition-00" in third
    assert "Page 2 of 3" in second
    assert 'href="/archive/?page=3"' in second and 'href="/archive/?page=1"' not in second  # page 1 is /archive/
    assert 'rel="prev" href="/archive/"' in second
    assert client.get("/archive/?page=4").status_code == 404
    assert client.get("/archive/?page=0").status_code == 404
    years = re.findall(r'<h2 class="ar-year">(\d{4})</h2>', third)
    assert years == ["2026"]


def test_an_edition_page_has_its_web_header_and_meta_tags(archive: Archive) -> None:
    text = page(archive.client, f"/archive/{archive.october}")
    assert "<title>October newsletter · Test Cluster Platform</title>" in text
    assert text.count("<title>") == 1
    assert re.search(r'<meta name="description" content="[^"]*Battery alliance reaches 100 members', text)
    assert '<meta property="og:title" content="October newsletter">' in text
    assert '<meta property="og:type" content="article">' in text
    assert f'<meta property="og:url" content="http://digest.test/archive/{archive.october}">' in text
    assert f'<link rel="canonical" href="http://digest.test/archive/{archive.october}">' in text
    assert "Sent <time" in text and "Friday 16 October 2026" in text
    assert f'rel="prev" href="/archive/{archive.september}"' in text
    assert f'rel="next" href="/archive/{archive.november}"' in text
    assert 'href="/subscribe"' in text
    # …and the email itself, as subscribers saw it
    assert "Battery alliance reaches 100 members" in text and "Dear reader," in text
    newest = page(archive.client, f"/archive/{archive.november}")
    assert 'rel="next"' not in newest and f'rel="prev" href="/archive/{archive.october}"' in newest


def test_the_public_copy_drops_the_unsubscribe_link_and_points_preferences_to_subscribe(archive: Archive) -> None:
    text = page(archive.client, f"/archive/{archive.november}")
    assert ">Unsubscribe<" not in text and ">Manage preferences<" not in text
    assert 'href="http://digest.test/subscribe"' in text


def test_no_page_a_reader_can_reach_carries_a_personal_link(archive: Archive) -> None:
    """Walk the site from the home page like a reader (every internal link, feeds and calendars
    included) and look for markers, token paths and the very links the subscribers received."""
    received = sent_personal_links(archive.outbox)
    assert len(received) >= 2  # two subscribers got the November edition, each with their own links
    seen: set[str] = set()
    queue = ["/", "/archive/search?q=cluster", "/archive/search?q=newsletter"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = archive.client.get(path)
        assert response.status_code == 200, path
        if response.mimetype.startswith("image/"):
            continue  # the site's icon: bytes, no links
        text = response.get_data(as_text=True)
        assert personal_leaks(text) == [], path
        assert not [link for link in received if link in text], path
        if response.mimetype == "text/html":
            for link in links_of(text):
                url = urlsplit(urljoin(f"http://digest.test{path}", link))
                internal = url.netloc == "digest.test" and not url.path.startswith("/subscribe")
                if internal:
                    queue.append((url.path or "/") + (f"?{url.query}" if url.query else ""))
    edition_pages = {path for path in seen if re.fullmatch(r"/archive/[a-z0-9-]+", path)} - {"/archive/search"}
    assert edition_pages == {f"/archive/{slug}" for slug in (archive.september, archive.october, archive.november)}
    assert {"/archive/feed.xml", "/archive/items.xml", "/events.ics"} <= seen
    assert any(path.startswith("/events/") for path in seen)  # the email's "Add to calendar" links, if any


def test_an_edition_being_sent_is_readable_once_a_subscriber_has_it_but_not_listed(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 3)
        make_item(session, "News on its way out")
        edition = create_edition(session, runtime.config, SYSTEM, "newsletter", title="Going out now").require()
        start_sending(session, runtime.config, edition.id)
        slug = edition.slug
    client = create_app(runtime).test_client()
    assert client.get(f"/archive/{slug}").status_code == 404  # nobody has it yet
    worker = Worker(runtime)
    try:
        sent_one = _send_one(runtime, worker)
    finally:
        worker.close()
    assert sent_one
    text = page(client, f"/archive/{slug}")
    assert '<meta name="robots" content="noindex">' in text and "Being sent now" in text
    assert personal_leaks(text) == []
    assert slug not in page(client, "/archive/") and slug not in page(client, "/archive/feed.xml")


def _send_one(runtime: Runtime, worker: Worker) -> bool:
    """Deliver a single message of the queue, as a worker that is stopped after its first one."""
    with runtime.sessions() as session, session.begin():
        deliveries = session.query(Delivery).order_by(Delivery.id).all()
        for delivery in deliveries[1:]:
            delivery.next_attempt_at = at(2999, 1, 1)  # not due yet: the worker leaves them queued
    return worker.run_once() == 1
