"""The static export: the whole archive as files any static web server can host.

The files mirror the web paths (``archive/<slug>/index.html`` for ``/archive/<slug>``), every link
between them is relative and names its file, so the export works from any subfolder. Feeds and
canonical links are absolute, on ``base_url`` (where the export will be served).
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from flask import render_template
from sqlalchemy.orm import Session

from archive import pages
from archive.calendar import calendar_file
from archive.feeds import editions_feed_xml, items_feed_xml
from archive.links import StaticLinks, archive_file, edition_file, event_file, export_file_for
from archive.published import (
    edition_page,
    personal_leaks,
    published_events,
    sent_editions,
    upcoming_events,
)
from digest.config import Config
from digest.errors import DigestError
from digest.models import utcnow
from digest.runtime import Runtime

MANIFEST = ".digest-archive"  # the files the last export wrote; marks a folder as ours to rewrite


class ExportError(DigestError):
    pass


@dataclass(frozen=True)
class ExportReport:
    out: Path
    editions: int
    index_pages: int
    events: int
    files: int


def build_archive(
    runtime: Runtime, out: Path, base_url: str | None = None, now: datetime | None = None
) -> ExportReport:
    """Write the archive into ``out`` (created if needed; a previous export there is replaced)."""
    site = runtime.config.site
    base = (base_url or site.base_url).rstrip("/")
    if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
        raise ExportError(f"--base-url {base_url!r} must be an absolute http(s) URL, e.g. https://example.org/archive")
    previous = _previous_files(out)
    from digest.web import create_app  # the web app's templates and filters render the pages

    app = create_app(runtime)
    with app.test_request_context("/"), runtime.sessions() as session:
        files, counts = _render_all(session, runtime.config, StaticLinks(base), now or utcnow())
    for path, content in files.items():
        leaks = personal_leaks(content.decode("utf-8", "replace"), site.base_url)
        if leaks:
            raise ExportError(f"{path} would carry a personal link ({leaks[0]}); nothing was written")
    _write(out, files, previous)
    return ExportReport(out=out, files=len(files), **counts)


def _render_all(
    session: Session, config: Config, links: StaticLinks, now: datetime
) -> tuple[dict[str, bytes], dict[str, int]]:
    site = config.site
    files: dict[str, bytes] = {}
    first = edition_page(session, 1, pages.PER_PAGE)
    assert first is not None  # page 1 always exists, even empty
    for number in range(1, first.count + 1):
        path = archive_file(number)
        files[path] = _html(pages.index_page(render_template, session, site, links.at(path), number))
    files["index.html"] = _html(pages.index_page(render_template, session, site, links.at("index.html"), 1))

    editions = sent_editions(session)
    edition_pages = {
        edition_file(edition.slug): pages.edition_page_html(
            render_template, session, config, links.at(edition_file(edition.slug)), edition
        )
        for edition in editions
    }

    files["archive/feed.xml"] = editions_feed_xml(render_template, session, site, links)
    files["archive/items.xml"] = items_feed_xml(render_template, session, site, links)

    upcoming = upcoming_events(session, now)
    events = {item.id: item for item in [*published_events(session), *upcoming]}
    calendar_args = (links.base_url, site.name, site.timezone)
    for item in events.values():
        files[event_file(item.id)] = calendar_file([item], *calendar_args, item.title)
    files["events.ics"] = calendar_file(upcoming, *calendar_args, f"{site.name}: upcoming events")

    exported = set(files) | set(edition_pages)
    for path, document in edition_pages.items():
        files[path] = _html(relative_links(document, site.base_url, path, exported))
    counts = {"editions": len(editions), "index_pages": first.count, "events": len(events)}
    return files, counts


def _html(document: str | None) -> bytes:
    assert document is not None
    return document.encode("utf-8")


_ANCHOR_HREF = re.compile(r"(<a\b[^>]*?\bhref=)([\"'])(.*?)\2", re.I | re.S)


def relative_links(document: str, site_url: str, page_path: str, exported: set[str]) -> str:
    """Point the email's links to the site (``{site_url}/archive/x``, ``/events/1.ics``…) at the
    exported files, relative to ``page_path``; root-relative links become absolute on the site."""
    site = site_url.rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        prefix, quote, url = match.groups()
        return f"{prefix}{quote}{_relative(url, site, page_path, exported)}{quote}"

    return _ANCHOR_HREF.sub(rewrite, document)


def _relative(url: str, site: str, page_path: str, exported: set[str]) -> str:
    if url.startswith("/") and not url.startswith("//"):
        url = site + url
    if url != site and not url.startswith(site + "/"):
        return url
    parts = urlsplit(url[len(site) :] or "/")
    target = export_file_for(parts.path or "/")
    if target is None or target not in exported:
        return url
    relative = posixpath.relpath(target, posixpath.dirname(page_path) or ".")
    return relative + (f"#{parts.fragment}" if parts.fragment else "")


def _previous_files(out: Path) -> list[str]:
    """The files a previous export wrote into ``out``; refuses a folder that holds something else."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; give a folder for --out")
    if not out.exists() or not any(out.iterdir()):
        return []
    manifest = out / MANIFEST
    if not manifest.is_file():
        raise ExportError(f"{out} is not empty and holds no previous archive export; give a new or empty folder")
    return [line for line in manifest.read_text(encoding="utf-8").splitlines() if line]


def _write(out: Path, files: dict[str, bytes], previous: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        _write_file(out / path, content)
    for stale in sorted(set(previous) - set(files), reverse=True):
        target = out / stale
        if target.resolve().is_relative_to(out.resolve()) and target.is_file():
            target.unlink()
            _remove_empty_parents(target.parent, out)
    _write_file(out / MANIFEST, "".join(f"{path}\n" for path in sorted(files)).encode("utf-8"))


def _write_file(target: Path, content: bytes) -> None:
    """Each file appears whole: a server reading the folder during a rebuild never sees half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "wb") as stream:
        stream.write(content)
    os.chmod(temporary, 0o644)
    os.replace(temporary, target)


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
