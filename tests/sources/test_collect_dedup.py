"""Deduplication: updates of pending items, tombstones, duplicates across sources and submissions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from digest.db import transaction
from digest.models import Item, Source
from sources.collector import collect
from tests.feedserver import Handler, body, fixture
from tests.sources.helpers import FAST, NOW, add_source, by_name, items_of


def rss(*items: str, namespace: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {namespace}><channel><title>T</title>'
        f"<link>https://site.example.org/</link>{''.join(items)}</channel></rss>"
    ).encode()


def item(guid: str, title: str, link: str, text: str = "Some text.", extra: str = "") -> str:
    return (
        f"<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>"
        f"<description>{text}</description>{extra}</item>"
    )


class Changing:
    """A feed whose body the test replaces between collections."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __call__(self, handler: Handler) -> None:
        body(self.data)(handler)


def set_status(runtime, title: str, status: str) -> None:
    with transaction(runtime.sessions) as session:
        session.query(Item).filter_by(title=title).one().status = status


def test_a_pending_item_follows_its_source(runtime, feed_server) -> None:
    feed = Changing(rss(item("g1", "Original title about clusters", "https://site.example.org/a")))
    add_source(runtime, "feed", feed_server.route("/feed", feed), "news")
    collect(runtime, now=NOW, settings=FAST)

    feed.data = rss(item("g1", "Corrected title about clusters", "https://site.example.org/a", "New text."))
    [result] = collect(runtime, now=NOW, settings=FAST)

    assert (result.new, result.duplicates, result.updated) == (0, 0, 1)
    [stored] = items_of(runtime)
    assert stored.title == "Corrected title about clusters" and "New text." in stored.summary
    assert stored.status == "pending"


@pytest.mark.parametrize("status", ["rejected", "published", "approved"])
def test_decided_items_never_change_or_come_back(runtime, feed_server, status) -> None:
    feed = Changing(rss(item("g1", "Story the editors decided on", "https://site.example.org/a")))
    add_source(runtime, "feed", feed_server.route("/feed", feed), "news")
    collect(runtime, now=NOW, settings=FAST)
    set_status(runtime, "Story the editors decided on", status)

    feed.data = rss(item("g1", "Story the editors decided on, edited", "https://site.example.org/a", "Edited."))
    [result] = collect(runtime, now=NOW, settings=FAST)

    assert (result.new, result.duplicates, result.updated) == (0, 1, 0)
    [stored] = items_of(runtime)
    assert stored.status == status and stored.title == "Story the editors decided on"


def test_a_rejected_item_reappearing_under_a_new_guid_stays_out(runtime, feed_server) -> None:
    feed = Changing(rss(item("g1", "Unwanted advertorial for a product", "https://site.example.org/ad")))
    add_source(runtime, "feed", feed_server.route("/feed", feed), "news")
    collect(runtime, now=NOW, settings=FAST)
    set_status(runtime, "Unwanted advertorial for a product", "rejected")

    feed.data = rss(item("g2", "Unwanted advertorial for a product!", "https://site.example.org/ad?utm_source=x"))
    [result] = collect(runtime, now=NOW, settings=FAST)

    assert (result.new, result.duplicates) == (0, 1)
    assert [stored.status for stored in items_of(runtime)] == ["rejected"]


def test_same_canonical_url_across_sources_is_one_item(runtime, feed_server) -> None:
    first = rss(item("a-1", "Cluster wins EU funding for hydrogen", "https://story.example.org/h2?utm_medium=rss"))
    second = rss(item("b-9", "Completely different wording of it", "https://STORY.example.org/h2#top"))
    add_source(runtime, "a", feed_server.route("/a", body(first)), "news")
    add_source(runtime, "b", feed_server.route("/b", body(second)), "news")

    results = by_name(collect(runtime, now=NOW, settings=FAST))

    assert results["a"].new + results["b"].new == 1
    assert results["a"].duplicates + results["b"].duplicates == 1
    assert [stored.url for stored in items_of(runtime)] == ["https://story.example.org/h2"]


def test_near_identical_titles_across_sources_are_one_item(runtime, feed_server) -> None:
    add_source(runtime, "a", feed_server.route("/a", body(rss(
        item("a-1", "Basque Energy Cluster signs MoU with Norwegian partners", "https://a.example.org/1"),
    ))), "news")  # fmt: skip
    collect(runtime, now=NOW, settings=FAST)
    add_source(runtime, "b", feed_server.route("/b", body(rss(
        item("b-1", "BASQUE ENERGY CLUSTER signs MoU with Norwegian partners!", "https://b.example.org/x"),
        item("b-2", "Basque Energy Cluster sign MoU with Norwegian partners", "https://b.example.org/y"),
        item("b-3", "Basque Energy Cluster signs MoU with Swedish partners", "https://b.example.org/z"),
    ))), "news")  # fmt: skip

    [result] = collect(runtime, "b", now=NOW, settings=FAST)

    assert (result.new, result.duplicates) == (1, 2)
    assert "Basque Energy Cluster signs MoU with Swedish partners" in [i.title for i in items_of(runtime, "b")]


def test_titles_differing_in_a_number_or_kind_are_different_items(runtime, feed_server) -> None:
    add_source(runtime, "news", feed_server.route("/n", body(rss(
        item("n-1", "European Cluster Conference 2026 report published", "https://n.example.org/1"),
        item("n-2", "European Cluster Conference 2027 report published", "https://n.example.org/2"),
    ))), "news")  # fmt: skip
    add_source(runtime, "calls", feed_server.route("/c", body(rss(
        item("c-1", "European Cluster Conference 2026 report published", "https://c.example.org/1"),
    ))), "call")  # fmt: skip

    results = by_name(collect(runtime, now=NOW, settings=FAST))

    assert results["news"].new == 2 and results["calls"].new == 1


def test_a_submitted_item_with_the_same_url_is_not_collected_again(runtime, feed_server) -> None:
    with transaction(runtime.sessions) as session:
        session.add(Item(
            kind="news", status="approved", title="Submitted by the cluster itself", summary="",
            url="https://story.example.org/submitted", origin="submission", source_id=None,
            dedup_key="submission-1", content_hash="x", topics=[],
        ))  # fmt: skip
    add_source(runtime, "feed", feed_server.route("/f", body(rss(
        item("f-1", "The feed's own title for it", "https://story.example.org/submitted?utm_campaign=1"),
    ))), "news")  # fmt: skip

    [result] = collect(runtime, now=NOW, settings=FAST)

    assert (result.new, result.duplicates) == (0, 1)


DIGEST_NS = 'xmlns:digest="https://clusterdigest.eu/ns/1.0"'


def test_an_update_without_the_deadline_keeps_the_known_deadline(runtime, feed_server) -> None:
    deadline = "<digest:deadline>2027-02-01T17:00:00+01:00</digest:deadline>"
    feed = Changing(rss(item("c1", "Open call for pilots", "https://c.example.org/1", extra=deadline),
                        namespace=DIGEST_NS))  # fmt: skip
    add_source(runtime, "calls", feed_server.route("/calls", feed), "call")
    collect(runtime, now=NOW, settings=FAST)

    feed.data = rss(item("c1", "Open call for pilots (extended)", "https://c.example.org/1"), namespace=DIGEST_NS)
    [result] = collect(runtime, now=NOW, settings=FAST)

    assert result.updated == 1
    [stored] = items_of(runtime)
    assert stored.title == "Open call for pilots (extended)"
    assert stored.deadline == datetime(2027, 2, 1, 16, 0, tzinfo=UTC)


def test_occurrences_of_a_recurring_event_are_separate_and_stable(runtime, feed_server) -> None:
    add_source(runtime, "events", feed_server.route("/events.ics", fixture("events.ics", conditional=False)), "event")
    collect(runtime, now=NOW, settings=FAST)
    cafes = [stored for stored in items_of(runtime) if stored.title.startswith("Weekly cluster café")]

    assert len(cafes) == 5  # six weekly, one EXDATE'd
    assert len({stored.guid for stored in cafes}) == 5

    with transaction(runtime.sessions) as session:
        session.query(Item).update({"status": "approved"})
        session.query(Source).update({"content_hash": None})
    [again] = collect(runtime, now=NOW, settings=FAST)
    assert again.new == 0 and again.duplicates == again.fetched


def test_two_runs_storing_the_same_source_at_once_store_it_once(runtime, feed_server) -> None:
    both_fetching = threading.Barrier(2, timeout=5)

    def together(handler: Handler) -> None:
        both_fetching.wait()  # both runs have fetched before either stores
        fixture("rss2.rss", conditional=False)(handler)

    add_source(runtime, "feed", feed_server.route("/feed", together), "news")
    outcomes: list = []
    runs = [threading.Thread(target=lambda: outcomes.extend(collect(runtime, now=NOW, settings=FAST)))
            for _ in range(2)]  # fmt: skip
    for run in runs:
        run.start()
    for run in runs:
        run.join(30)

    assert sorted(result.new for result in outcomes) == [0, 3]
    assert len(items_of(runtime)) == 3


def test_a_guid_once_repeated_for_everything_is_not_taken_for_a_later_entry(runtime, feed_server) -> None:
    feed = Changing(rss(*(item("same", f"Story {n} of the careless feed", f"https://s.example.org/{n}")
                          for n in ("one", "two", "three"))))  # fmt: skip
    add_source(runtime, "careless", feed_server.route("/careless", feed), "news")
    collect(runtime, now=NOW, settings=FAST)

    feed.data = rss(item("same", "A fourth and different story", "https://s.example.org/four"))
    [result] = collect(runtime, now=NOW, settings=FAST)

    assert (result.new, result.updated) == (1, 0)
    assert sorted(stored.title for stored in items_of(runtime)) == [
        "A fourth and different story",
        "Story one of the careless feed",
        "Story three of the careless feed",
        "Story two of the careless feed",
    ]


def test_new_guids_for_the_same_links_update_instead_of_duplicating(runtime, feed_server) -> None:
    feed = Changing(rss(item("old-cms-1", "Cluster opens a test lab", "https://site.example.org/lab")))
    add_source(runtime, "moved", feed_server.route("/moved", feed), "news")
    collect(runtime, now=NOW, settings=FAST)

    feed.data = rss(item("new-cms-77", "Cluster opens a test lab in Ghent", "https://site.example.org/lab"))
    [result] = collect(runtime, now=NOW, settings=FAST)

    assert (result.new, result.updated) == (0, 1)
    [stored] = items_of(runtime)
    assert stored.title == "Cluster opens a test lab in Ghent" and stored.guid == "new-cms-77"
