"""Archive pages built once and kept: they stay as built until an edition is sent (then every page
showing it changes at once), a change of templates, code or site settings builds them again, and
readers' conditional requests get 304s."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from archive.kept import FOLDER_NAME, Shelf, fingerprint, kept
from digest.config import load_config
from digest.models import Edition
from digest.runtime import Runtime
from digest.stamp import mark_archive_changed
from digest.web import create_app
from tests.archive.helpers import at, publish
from tests.factories import make_item

KEPT_PATHS = ("/", "/archive/", "/archive/feed.xml", "/archive/items.xml", "/events.ics")
SOON = datetime.now(UTC) + timedelta(days=30)


def event(title: str) -> tuple[str, str, dict[str, object]]:
    return (title, "event", {"starts_at": SOON, "ends_at": SOON + timedelta(hours=2), "location": "Brussels"})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def texts(client: FlaskClient, paths: tuple[str, ...]) -> dict[str, str]:
    answers = {path: client.get(path) for path in paths}
    assert all(answer.status_code == 200 for answer in answers.values()), answers
    return {path: answer.get_data(as_text=True) for path, answer in answers.items()}


def test_pages_are_kept_until_an_edition_is_sent(runtime: Runtime, client: FlaskClient) -> None:
    slug = publish(runtime, [("Kept hydrogen valley", "news")], when=at(2026, 10, 2), title="October kept")
    first = texts(client, (*KEPT_PATHS, f"/archive/{slug}"))
    with runtime.sessions() as session, session.begin():  # behind the archive's back: no mark_archive_changed
        session.execute(update(Edition).where(Edition.slug == slug).values(title="Renamed quietly"))
    twice = texts(client, (*KEPT_PATHS, f"/archive/{slug}"))
    assert twice == first  # served as built, not rebuilt
    assert "Renamed quietly" not in twice["/archive/"]
    with runtime.sessions() as session, session.begin():
        mark_archive_changed(session)
    assert "Renamed quietly" in client.get("/archive/").get_data(as_text=True)


def test_a_newly_sent_edition_appears_at_once_everywhere(runtime: Runtime, client: FlaskClient) -> None:
    older = publish(runtime, [event("Cluster matchmaking fair")], when=at(2026, 10, 2), title="October issue")
    before = texts(client, (*KEPT_PATHS, f"/archive/{older}"))
    assert "November issue" not in before["/archive/"]

    newer = publish(runtime, [event("Photonics summit Lisbon")], when=at(2026, 11, 6), title="November issue")

    after = texts(client, (*KEPT_PATHS, f"/archive/{older}", f"/archive/{newer}"))
    for path in ("/", "/archive/", "/archive/feed.xml"):
        assert "November issue" in after[path], path
    assert "Photonics summit Lisbon" in after["/archive/items.xml"]
    assert "Photonics summit Lisbon" in after["/events.ics"]
    assert f"/archive/{newer}" in after[f"/archive/{older}"]  # the older page now links to the newer one


def test_the_events_calendar_follows_an_approved_event(runtime: Runtime, client: FlaskClient) -> None:
    publish(runtime, [event("Cluster matchmaking fair")], when=at(2026, 10, 2))
    assert "Textile week" not in client.get("/events.ics").get_data(as_text=True)
    with runtime.sessions() as session, session.begin():  # approved events are listed before they are sent
        make_item(session, "Textile week", kind="event", status="approved", starts_at=SOON)
    assert "Textile week" in client.get("/events.ics").get_data(as_text=True)


def test_a_new_fingerprint_builds_again_and_the_same_one_reads_what_another_process_built(
    runtime: Runtime, tmp_path: Path
) -> None:
    folder, builds = tmp_path / "kept", []

    def build(text: str) -> Callable[[], object]:
        return lambda: builds.append(text) or kept(text, "text/plain")

    first = Shelf(folder, runtime.engine, "fingerprint one")
    generation = first.generation()
    assert first.fetch(generation, "page", build("one")).body == b"one"  # type: ignore[union-attr]
    same = Shelf(folder, runtime.engine, "fingerprint one")  # another process: only the disk is shared
    assert same.fetch(same.generation(), "page", build("again")).body == b"one"  # type: ignore[union-attr]
    other = Shelf(folder, runtime.engine, "fingerprint two")
    assert other.fetch(other.generation(), "page", build("two")).body == b"two"  # type: ignore[union-attr]
    assert builds == ["one", "two"]


def test_the_fingerprint_follows_templates_and_settings(tmp_path: Path) -> None:
    templates = tmp_path / "web"
    templates.mkdir()
    (templates / "archive_index.html").write_text("<h1>{{ title }}</h1>", encoding="utf-8")
    before = fingerprint([templates], {"name": "Site"})
    assert fingerprint([templates], {"name": "Site"}) == before
    assert fingerprint([templates], {"name": "Other site"}) != before
    (templates / "archive_index.html").write_text("<h2>{{ title }}</h2>", encoding="utf-8")
    assert fingerprint([templates], {"name": "Site"}) != before


def test_a_changed_site_setting_rebuilds_the_pages(runtime: Runtime, write_config: Callable[..., Path]) -> None:
    publish(runtime, [("Kept hydrogen valley", "news")], when=at(2026, 10, 2))
    assert "Renamed Platform" not in create_app(runtime).test_client().get("/archive/").get_data(as_text=True)
    renamed = Runtime(load_config(write_config(site={"name": "Renamed Platform"}), environ={}))
    try:
        assert (runtime.config.var_dir / FOLDER_NAME).is_dir() and renamed.config.var_dir == runtime.config.var_dir
        assert "Renamed Platform" in create_app(renamed).test_client().get("/archive/").get_data(as_text=True)
    finally:
        renamed.close()


@pytest.mark.parametrize("path", ["/archive/", "/archive/feed.xml", "/events.ics", "edition"])
def test_conditional_requests_get_304(runtime: Runtime, client: FlaskClient, path: str) -> None:
    slug = publish(runtime, [event("Cluster matchmaking fair")], when=at(2026, 10, 2))
    path = f"/archive/{slug}" if path == "edition" else path
    for attempt in ("built", "kept"):  # the answer that builds, then the one served from what was kept
        full = client.get(path)
        assert full.status_code == 200 and full.headers["Cache-Control"].startswith("public, max-age="), attempt
        etag, modified = full.headers["ETag"], full.headers["Last-Modified"]
        by_tag = client.get(path, headers={"If-None-Match": etag})
        assert by_tag.status_code == 304 and by_tag.data == b"" and by_tag.headers["ETag"] == etag, attempt
        by_date = client.get(path, headers={"If-Modified-Since": modified})
        assert by_date.status_code == 304 and by_date.data == b"", attempt
        assert client.get(path, headers={"If-None-Match": '"something else"'}).status_code == 200


def test_a_changed_page_gets_a_new_etag(runtime: Runtime, client: FlaskClient) -> None:
    older = publish(runtime, [("Kept hydrogen valley", "news")], when=at(2026, 10, 2), title="October issue")
    tags = {path: client.get(path).headers["ETag"] for path in ("/archive/", f"/archive/{older}")}
    publish(runtime, [("Photonics summit Lisbon", "news")], when=at(2026, 11, 6), title="November issue")
    for path, tag in tags.items():
        answer = client.get(path, headers={"If-None-Match": tag})
        assert answer.status_code == 200 and answer.headers["ETag"] != tag, path


def test_kept_answers_carry_the_security_headers_and_head_has_no_body(runtime: Runtime, client: FlaskClient) -> None:
    slug = publish(runtime, [("Kept hydrogen valley", "news")], when=at(2026, 10, 2))
    built, kept_answer = client.get(f"/archive/{slug}"), client.get(f"/archive/{slug}")
    for header in ("Content-Security-Policy", "X-Content-Type-Options", "Content-Type", "ETag"):
        assert kept_answer.headers[header] == built.headers[header], header
    head = client.head(f"/archive/{slug}")
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == built.headers["ETag"]


@pytest.mark.parametrize("attempt", ["built", "kept"])
def test_readers_who_take_gzip_get_it_compressed_once(runtime: Runtime, client: FlaskClient, attempt: str) -> None:
    slug = publish(runtime, [("Kept hydrogen valley", "news")], when=at(2026, 10, 2))
    plain = client.get(f"/archive/{slug}")
    if attempt == "kept":
        client.get(f"/archive/{slug}", headers={"Accept-Encoding": "gzip, deflate, br"})
    packed = client.get(f"/archive/{slug}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data)
    assert packed.headers["ETag"] != plain.headers["ETag"]  # two representations, two tags
    again = client.get(f"/archive/{slug}", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
    refused = client.get(f"/archive/{slug}", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers and refused.data == plain.data
