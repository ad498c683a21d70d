"""The collector end to end: bundled sample feeds and plain RSS/Atom/iCalendar over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from digest.models import Edition
from sources.collector import CollectResult, UnknownSource, collect
from tests.archive.helpers import publish
from tests.feedserver import FeedServer, body, fixture
from tests.sources.helpers import FAST, NOW, add_source, by_name, items_of, source_row

SAMPLES = {
    "ECCP News": ("sample://news.rss", "news"),
    "ECCP Achievements": ("sample://achievements.atom", "achievement"),
    "ECCP Calls": ("sample://calls.rss", "call"),
    "ECCP Events": ("sample://events.ics", "event"),
}


def test_sample_feeds_are_collected_with_their_fields(runtime) -> None:
    for name, (url, kind) in SAMPLES.items():
        add_source(runtime, name, url, kind)

    results = by_name(collect(runtime, settings=FAST))

    assert {result.status for result in results.values()} == {"ok"}, results
    for name in SAMPLES:
        assert results[name].new > 0 and results[name].fetched >= results[name].new
        assert results[name].error is None
    news = items_of(runtime, "ECCP News")
    assert all(item.kind == "news" and item.status == "pending" and item.origin == "feed" for item in news)
    basque = next(item for item in news if item.title.startswith("Basque Energy Cluster"))
    assert basque.organisation == "Basque Energy Cluster"
    assert basque.country == "Spain"
    assert "Energy" in basque.topics and "Spain" not in basque.topics
    assert basque.image_url == "/static/samples/news/basque-norway-signature.png"  # shipped with the app
    assert basque.url.startswith("https://clusters.example.eu/news/")
    assert "<strong>" in basque.summary and basque.published_at is not None

    achievements = items_of(runtime, "ECCP Achievements")
    assert all(item.kind == "achievement" and item.organisation for item in achievements)
    assert all(item.country for item in achievements)

    calls = items_of(runtime, "ECCP Calls")
    assert calls and all(item.kind == "call" and item.deadline is not None for item in calls)

    events = items_of(runtime, "ECCP Events")
    assert events and all(item.kind == "event" and item.starts_at is not None for item in events)
    assert all(item.timezone and item.location for item in events)
    recurring = [item for item in events if item.guid and "#" in item.guid]
    assert len(recurring) >= 2 and len({item.guid for item in recurring}) == len(recurring)


def test_the_demo_pictures_ship_with_the_app_and_follow_its_address(runtime, app) -> None:
    for name, (url, kind) in SAMPLES.items():
        add_source(runtime, name, url, kind)
    collect(runtime, settings=FAST)
    pictures = {item.image_url for item in items_of(runtime) if item.image_url}
    assert len(pictures) >= 9
    client = app.test_client()
    for path in pictures:
        answer = client.get(path)
        assert answer.status_code == 200 and answer.mimetype == "image/png", path
        assert answer.data[:8] == b"\x89PNG\r\n\x1a\n"
    picture = "/static/samples/news/basque-norway-signature.png"
    slug = publish(runtime, [("Pictured", "news", {"image_url": picture})])
    with runtime.sessions() as session:
        html = session.scalars(select(Edition.html).where(Edition.slug == slug)).one()
    assert f'src="{runtime.config.site.base_url}{picture}"' in html  # the address the app is at, when sent


def test_a_feed_from_elsewhere_cannot_name_a_bundled_picture_by_path(runtime, feed_server: FeedServer) -> None:
    rss = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://news.example.org/</link>'
        "<item><title>A</title><link>https://news.example.org/a</link>"
        '<enclosure url="/static/samples/news/basque-norway-signature.png" type="image/png" length="1"/>'
        "</item></channel></rss>"
    )
    feed_server.route("/feed.xml", body(rss.encode(), "application/rss+xml"))
    add_source(runtime, "Elsewhere", feed_server.url("/feed.xml"), "news")
    collect(runtime, settings=FAST)
    [item] = items_of(runtime, "Elsewhere")
    assert item.image_url == "https://news.example.org/static/samples/news/basque-norway-signature.png"


def test_second_collection_of_unchanged_samples_is_not_modified(runtime) -> None:
    for name, (url, kind) in SAMPLES.items():
        add_source(runtime, name, url, kind)
    collect(runtime, settings=FAST)
    count = len(items_of(runtime))

    again = collect(runtime, settings=FAST)

    assert {result.status for result in again} == {"not_modified"}
    assert all(result.new == 0 and result.fetched == 0 for result in again)
    assert len(items_of(runtime)) == count


def test_rss_atom_and_ics_over_http(runtime, feed_server: FeedServer) -> None:
    add_source(runtime, "rss", feed_server.route("/rss2.rss", fixture("rss2.rss")), "news")
    add_source(runtime, "atom", feed_server.route("/atom10.atom", fixture("atom10.atom")), "auto")
    add_source(runtime, "ics", feed_server.route("/events.ics", fixture("events.ics")), "event")

    results = by_name(collect(runtime, now=NOW, settings=FAST))

    assert results["rss"].status == "ok" and results["rss"].new == 3
    assert results["atom"].status == "ok" and results["atom"].new == 2
    assert results["ics"].status == "ok"
    hub = next(item for item in items_of(runtime, "rss") if "circular fashion" in item.title)
    assert hub.title == "Textile cluster & partners launch circular fashion hub"
    assert hub.url == "https://news.example.org/articles/circular-fashion-hub?id=7"
    assert hub.organisation == "Tuscany Fashion Cluster" and hub.country == "Italy"
    assert hub.topics == ["Textiles", "Circular Economy"]
    assert hub.published_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert 'href="https://news.example.org/articles/prato-map"' in hub.summary
    assert 'src="https://news.example.org/images/hub.jpg"' in hub.summary
    assert hub.image_url == "https://news.example.org/images/hub-large.jpg"

    award, members = items_of(runtime, "atom")
    assert award.title == "Mechatronics cluster wins European innovation award"
    assert award.kind == "achievement"  # auto: "wins … award"
    assert award.organisation == "Mechatronics Cluster Upper Austria" and award.country == "Austria"
    assert award.image_url == "https://achievements.example.org/img/award.png"
    assert "Five hundred members" in members.summary


def test_result_json_has_exactly_the_design_fields(runtime, feed_server: FeedServer) -> None:
    add_source(runtime, "rss", feed_server.route("/rss2.rss", fixture("rss2.rss")), "news")
    seen: list[CollectResult] = []

    [result] = collect(runtime, now=NOW, settings=FAST, on_result=seen.append)

    assert seen == [result]
    assert result.as_json() == {
        "source": "rss",
        "status": "ok",
        "fetched": 3,
        "new": 3,
        "duplicates": 0,
        "updated": 0,
        "error": None,
    }


def test_one_named_source_only(runtime, feed_server: FeedServer) -> None:
    add_source(runtime, "rss", feed_server.route("/rss2.rss", fixture("rss2.rss")), "news")
    add_source(runtime, "atom", feed_server.route("/atom10.atom", fixture("atom10.atom")), "auto")

    results = collect(runtime, "atom", now=NOW, settings=FAST)

    assert [result.source for result in results] == ["atom"]
    assert feed_server.requests_for("/rss2.rss") == []


def test_unknown_source_name_raises(runtime) -> None:
    with pytest.raises(UnknownSource):
        collect(runtime, "nope", settings=FAST)


def test_disabled_sources_are_skipped_and_due_only_respects_next_fetch(runtime, feed_server: FeedServer) -> None:
    add_source(runtime, "off", feed_server.route("/a.rss", fixture("rss2.rss")), "news", enabled=False)
    add_source(runtime, "later", feed_server.route("/b.rss", fixture("rss2.rss")), "news",
               next_fetch_at=NOW + timedelta(hours=1))  # fmt: skip
    add_source(runtime, "due", feed_server.route("/c.rss", fixture("rss2.rss")), "news",
               next_fetch_at=NOW - timedelta(minutes=1))  # fmt: skip

    assert [result.source for result in collect(runtime, due_only=True, now=NOW, settings=FAST)] == ["due"]
    assert sorted(result.source for result in collect(runtime, now=NOW, settings=FAST)) == ["due", "later"]


def test_sources_list_fields_are_recorded(runtime, feed_server: FeedServer) -> None:
    add_source(runtime, "rss", feed_server.route("/rss2.rss", fixture("rss2.rss")), "news")

    collect(runtime, now=NOW, settings=FAST)

    source = source_row(runtime, "rss")
    assert source.last_status == "ok" and source.last_error is None and source.consecutive_errors == 0
    assert source.last_fetch_at == NOW
    assert source.etag and source.last_modified and source.content_hash


def test_a_fetchs_warnings_are_kept_on_the_source_until_a_clean_fetch(runtime, feed_server: FeedServer) -> None:
    untitled = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        b"<item><title>Kept</title><link>https://news.example.eu/1</link></item>"
        b"<item><link>https://news.example.eu/2</link></item></channel></rss>"
    )
    add_source(runtime, "rss", feed_server.route("/untitled.rss", body(untitled)), "news")
    collect(runtime, now=NOW, settings=FAST)
    assert source_row(runtime, "rss").last_warning == "1 entries without a title or text were skipped"

    feed_server.route("/untitled.rss", fixture("rss2.rss"))
    collect(runtime, now=NOW + timedelta(days=1), settings=FAST)
    assert source_row(runtime, "rss").last_warning is None
