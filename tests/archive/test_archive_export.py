"""`digest archive build --out DIR`: the whole archive as static files whose every link resolves,
from any subfolder, with no personal link anywhere and feeds and calendars that parse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import urlopen

import feedparser
import pytest
from icalendar import Calendar

from digest.audit import SYSTEM
from digest.editions.lifecycle import create_edition
from digest.models import Item
from digest.runtime import Runtime
from tests.archive.helpers import at, links_of, personal_leaks, publish, sent_personal_links
from tests.cli import digest
from tests.factories import make_item, make_subscribers
from tests.feedserver import serving_folder


@pytest.fixture
def published(runtime: Runtime) -> list[str]:
    september = publish(
        runtime,
        [("Hydrogen valleys network grows", "news"), ("Matchmaking days in Lyon", "event")],
        when=at(2026, 9, 3),
        title="September newsletter",
    )
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 2)
    october = publish(runtime, [("Open call for textile SMEs", "call")], when=at(2026, 10, 1), title="October news")
    with runtime.sessions() as session, session.begin():
        make_item(session, "Item of a draft nobody sent")
        create_edition(session, runtime.config, SYSTEM, "newsletter", title="Unsent draft").require()
    return [october, september]


def build(runtime: Runtime, out: Path, *extra: str) -> str:
    return digest("archive", "build", "--out", str(out), *extra, config=runtime.config.path).stdout


def walk_files(root: Path) -> list[tuple[Path, str]]:
    """Every link of every exported page, checked to resolve to a file of the export."""
    checked = []
    for page in root.rglob("*.html"):
        for link in links_of(page.read_text(encoding="utf-8")):
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto") or link.startswith("#"):
                continue
            assert not link.startswith("/"), f"{page.relative_to(root)}: {link} only works at a site root"
            target = (page.parent / parts.path).resolve()
            assert target.is_file(), f"{page.relative_to(root)}: {link} points at nothing"
            assert target.is_relative_to(root.resolve()), f"{page.relative_to(root)}: {link} leaves the export"
            checked.append((page, link))
    return checked


def test_the_export_is_complete_and_every_link_resolves(runtime: Runtime, published: list[str], tmp_path: Path) -> None:
    out = tmp_path / "www" / "cluster" / "archive-copy"  # served from a subfolder
    output = build(runtime, out)
    assert "2 edition(s)" in output
    files = {path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file()}
    for slug in published:
        assert f"archive/{slug}/index.html" in files
    assert {"index.html", "archive/index.html", "archive/feed.xml", "archive/items.xml", "events.ics"} <= files
    assert not [name for name in files if "draft" in name]
    checked = walk_files(out)
    assert len(checked) > 30
    september_page = out / "archive" / published[1] / "index.html"
    september_links = [link for page, link in checked if page == september_page]
    assert "../../index.html" in september_links and "../index.html" in september_links  # home, archive index
    assert f"../{published[0]}/index.html" in september_links  # next edition
    assert any(link.startswith("../../events/") and link.endswith(".ics") for link in september_links)  # email link
    assert "index.html" in september_links  # the email's own "view in browser" link, now this very file


def test_no_exported_file_carries_a_personal_link(runtime: Runtime, published: list[str], tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(runtime, out)
    received = sent_personal_links(runtime.config.outbox_dir)
    assert received
    exported = [path for path in out.rglob("*") if path.is_file()]
    assert len(exported) > 8
    for path in exported:
        text = path.read_text(encoding="utf-8")
        assert personal_leaks(text) == [], path
        assert not [link for link in received if link in text], path
    assert "Draft" not in (out / "index.html").read_text(encoding="utf-8")


def test_the_exported_feeds_and_calendars_parse(runtime: Runtime, published: list[str], tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(runtime, out, "--base-url", "https://example.org/cluster-archive/")
    for name in ("archive/feed.xml", "archive/items.xml"):
        feed = feedparser.parse((out / name).read_bytes())
        assert not feed.bozo, (name, feed.get("bozo_exception"))
        assert feed.entries
    editions = feedparser.parse((out / "archive/feed.xml").read_bytes())
    assert editions.entries[0].link == f"https://example.org/cluster-archive/archive/{published[0]}/"
    calendars = [out / "events.ics", *(out / "events").glob("*.ics")]
    assert len(calendars) >= 2
    for path in calendars:
        calendar = Calendar.from_ical(path.read_bytes())
        for event in calendar.walk("VEVENT"):
            assert {"UID", "DTSTAMP", "DTSTART", "SUMMARY", "URL", "DESCRIPTION"} <= set(event), path


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    with serving_folder(root) as url:
        yield url


def test_a_static_web_server_serves_the_export_from_a_subfolder(
    runtime: Runtime, published: list[str], tmp_path: Path, static_server: str
) -> None:
    """Read the export as a reader would: over HTTP, from a subfolder, following every link."""
    build(runtime, tmp_path / "www" / "news" / "archive")
    start = f"{static_server}/news/archive/index.html"
    seen, queue = set(), [start]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        with urlopen(url, timeout=10) as response:
            assert response.status == 200, url
            body = response.read().decode("utf-8")
        if url.endswith(".html"):
            for link in links_of(body):
                target = urljoin(url, link).split("#")[0]
                if target.startswith(static_server):
                    queue.append(target)
    assert {f"{static_server}/news/archive/archive/{slug}/index.html" for slug in published} <= seen
    assert f"{static_server}/news/archive/archive/feed.xml" in seen


def test_building_again_replaces_the_previous_export(runtime: Runtime, published: list[str], tmp_path: Path) -> None:
    out = tmp_path / "site"
    with runtime.sessions() as session, session.begin():
        summit = make_item(session, "Summit later withdrawn", kind="event")
    build(runtime, out)
    assert (out / "events" / f"{summit.id}.ics").is_file()
    with runtime.sessions() as session, session.begin():
        session.get(Item, summit.id).status = "rejected"
    november = publish(runtime, [("Digital hubs meet", "news")], when=at(2026, 11, 5), title="November news")
    build(runtime, out)
    assert not (out / "events" / f"{summit.id}.ics").exists()
    assert (out / "archive" / november / "index.html").is_file()
    assert f"archive/{november}/index.html" in (out / "index.html").read_text(encoding="utf-8")
    walk_files(out)


def test_a_folder_holding_something_else_is_left_alone(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.txt").write_text("precious", encoding="utf-8")
    result = digest("archive", "build", "--out", str(out), config=runtime.config.path, check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not empty" in result.stderr
    assert [path.name for path in out.iterdir()] == ["thesis.txt"]
