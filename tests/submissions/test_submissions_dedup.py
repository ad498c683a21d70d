"""A submission goes through the collectors' dedup: the same story already collected (same link, or
a near-identical title of the same kind), already submitted, or already rejected is not added twice —
the submission is linked to the item it repeats and kept. And a feed later carrying a submitted story
does not add it again."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from digest.db import transaction
from digest.models import Item, Submission
from digest.runtime import Runtime
from sources.collector import collect
from sources.submissions import (
    SubmittedItem,
    store_submission,
    submission_for_item,
    submissions_for_item,
    submit,
)
from tests.feedserver import FeedServer, body
from tests.sources.helpers import FAST, add_source
from tests.submissions.helpers import Site, running_site, valid


@pytest.fixture
def site(runtime: Runtime) -> Iterator[Site]:
    with running_site(runtime) as site:
        yield site


def rss(title: str, link: str) -> bytes:
    published = (datetime.now(UTC) - timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Cluster news</title>'
        f"<link>https://news.example.eu/</link><item><guid>story-1</guid><title>{title}</title><link>{link}</link>"
        f"<description>What the feed says.</description><pubDate>{published}</pubDate></item></channel></rss>"
    ).encode()


def collect_story(runtime: Runtime, feed_server: FeedServer, title: str, link: str) -> Item:
    add_source(runtime, "Cluster news", feed_server.route("/news.rss", body(rss(title, link))), "news")
    [result] = collect(runtime, settings=FAST)
    assert result.status == "ok" and result.new == 1
    with runtime.sessions() as session:
        return session.query(Item).one()


def test_a_submission_of_a_collected_story_is_linked_to_it_not_lost(site: Site, runtime, feed_server) -> None:
    collected = collect_story(runtime, feed_server, "Textile cluster opens a lab", "https://news.example.eu/lab")

    response = site.api(valid("news", title="Our new textile lab is open",
                              url="https://news.example.eu/lab?utm_source=newsletter"))  # fmt: skip

    assert response.status_code == 201 and response.get_json()["status"] == "duplicate"
    assert response.get_json()["item_id"] == collected.id
    [item] = site.items()  # nothing added to the queue
    assert item.origin == "feed"
    [submission] = site.submissions()
    assert (submission.status, submission.item_id) == ("duplicate", collected.id)
    assert submission.payload["title"] == "Our new textile lab is open"  # what they sent is kept
    site.tell_submitters()  # the confirmation
    [submission] = site.submissions()
    assert submission.notified_status == "pending"


def test_a_near_identical_title_of_the_same_kind_is_a_duplicate(site: Site, runtime, feed_server) -> None:
    collected = collect_story(runtime, feed_server, "Basque hydrogen cluster opens its new test centre",
                              "https://news.example.eu/h2")  # fmt: skip

    typo = site.api(valid("news", title="Basque hydrogen cluster opens its new test center", url=None))
    other_kind = site.api(valid("achievement", title="Basque hydrogen cluster opens its new test centre", url=None))

    assert typo.get_json()["status"] == "duplicate" and typo.get_json()["item_id"] == collected.id
    assert other_kind.get_json()["status"] == "pending"


def test_a_title_with_another_number_is_another_story(site: Site, runtime, feed_server) -> None:
    collect_story(runtime, feed_server, "European cluster conference 2026 report published",
                  "https://news.example.eu/report-2026")  # fmt: skip

    response = site.api(valid("news", title="European cluster conference 2027 report published", url=None))

    assert response.get_json()["status"] == "pending" and len(site.items()) == 2


def test_the_same_submission_twice_is_one_item_with_two_submissions(site: Site, runtime: Runtime) -> None:
    first = site.api(valid("event")).get_json()
    second = site.api(valid("event", contact_name="Another colleague")).get_json()

    assert first["status"] == "pending" and second["status"] == "duplicate"
    assert first["item_id"] == second["item_id"] and len(site.items()) == 1
    with runtime.sessions() as session:
        linked = submissions_for_item(session, first["item_id"])
        behind = submission_for_item(session, first["item_id"])
    assert [s.id for s in linked] == [first["id"], second["id"]]
    assert behind.id == first["id"] and behind.contact_name == "Ane Etxeberria"


def test_another_day_of_an_event_at_the_same_address_is_another_item(site: Site) -> None:
    first = site.api(valid("event", title="Open lab day")).get_json()
    later = site.api(valid("event", title="Open lab day", starts_at="2027-05-10T09:00", ends_at=None)).get_json()

    assert first["status"] == later["status"] == "pending" and first["item_id"] != later["item_id"]


def test_a_rejected_story_is_a_tombstone_the_submission_is_linked_to(site: Site, runtime: Runtime) -> None:
    first = site.api(valid("news")).get_json()
    with transaction(runtime.sessions) as session:
        session.get(Item, first["item_id"]).status = "rejected"

    again = site.api(valid("news", title="Cluster news worth telling!")).get_json()

    assert (again["status"], again["item_id"]) == ("duplicate", first["item_id"])
    site.tell_submitters()  # the confirmations
    with runtime.sessions() as session:
        assert session.get(Item, first["item_id"]).status == "rejected"  # an editor's decision stands
        assert session.get(Submission, again["id"]).notified_status == "rejected"  # no email about the old decision


def test_a_feed_carrying_a_submitted_story_does_not_add_it_again(site: Site, runtime, feed_server) -> None:
    submitted = site.api(valid("news", url="https://news.example.eu/story")).get_json()

    add_source(runtime, "Cluster news", feed_server.route("/n.rss", body(rss("Feed title", "https://news.example.eu/story"))),
               "news")  # fmt: skip
    [result] = collect(runtime, settings=FAST)

    assert (result.new, result.duplicates) == (0, 1)
    assert [item.id for item in site.items()] == [submitted["item_id"]]


def test_the_submission_and_its_item_are_stored_together_or_not_at_all(runtime: Runtime) -> None:
    submitted = SubmittedItem(kind="news", title="A story", summary_html="<p>Text.</p>", organisation="O",
                              contact_name="N", contact_email="n@example.eu")  # fmt: skip
    with pytest.raises(RuntimeError), transaction(runtime.sessions) as session:
        stored = store_submission(session, submitted)
        session.flush()
        assert stored.item_id is not None and stored.status == "pending"
        raise RuntimeError("the transaction fails after both rows were written")
    with runtime.sessions() as session:
        assert session.query(Submission).count() == 0 and session.query(Item).count() == 0


def test_every_stored_title_carries_its_indexed_keys(site: Site, runtime, feed_server) -> None:
    """The lookup asks the indexes (items.title_key, title_head, title_tail), so every way an item is
    stored keeps them: a collected entry (one executemany, no ORM), a submission, an editor's edit."""
    collected = collect_story(runtime, feed_server, "Basque hydrogen cluster opens its new test centre",
                              "https://news.example.eu/h2")  # fmt: skip
    assert (collected.title_key, collected.title_head, collected.title_tail) == (
        "basque hydrogen cluster opens its new test centre", "^basque hydrogen cluster", "$new test centre",
    )  # fmt: skip
    site.api(valid("news", title="Café-Day: short", url=None))
    with runtime.sessions() as session, session.begin():
        submitted = session.query(Item).filter(Item.origin == "submission").one()
        assert (submitted.title_key, submitted.title_head, submitted.title_tail) == ("cafe day short", None, None)
        item = session.get(Item, collected.id)
        item.title = "Renamed by an editor: the Basque hydrogen test centre opens"
    with runtime.sessions() as session:
        renamed = session.get(Item, collected.id)
        assert renamed.title_head == "^renamed by an" and renamed.title_tail == "$test centre opens"


def test_the_title_lookup_reads_its_indexes_in_order_and_sorts_nothing(runtime: Runtime) -> None:
    """Each query the near-duplicate lookup makes on SQLite walks an index and stops at its limit: none
    sorts its matches (an OR of the two title edges read every look-alike and sorted them all first,
    inside the write lock)."""
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plans")
    statements: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM items" in statement:
            statements.append((statement, parameters))

    submitted = SubmittedItem(kind="news", title="Hydrogen valleys meet in Bilbao for two days in Europe and beyond",
                              summary_html="<p>Text.</p>", organisation="O", contact_name="N",
                              contact_email="n@example.eu", url="https://news.example.eu/valleys")  # fmt: skip
    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        with transaction(runtime.sessions) as session:
            store_submission(session, submitted)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)

    assert len(statements) >= 3  # the link, the same title, and each title edge
    with runtime.engine.connect() as connection:
        for statement, parameters in statements:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " / ".join(row[-1] for row in rows)
            assert "TEMP B-TREE" not in plan and "SCAN items" not in plan, (statement, plan)
            assert "USING INDEX" in plan or "USING INTEGER PRIMARY KEY" in plan, (statement, plan)


def test_storing_a_submission_reads_no_package_metadata(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The submission needs one collect setting; it used to build the collectors' User-Agent too, which
    reads the installed package's metadata from disk on every request."""

    def no_disk(_name: str) -> str:
        raise AssertionError("package metadata read while storing a submission")

    monkeypatch.setattr(importlib.metadata, "version", no_disk)
    submitted = SubmittedItem(kind="news", title="A story", summary_html="<p>Text.</p>", organisation="O",
                              contact_name="N", contact_email="n@example.eu")  # fmt: skip

    assert submit(runtime, submitted).status == "pending"
