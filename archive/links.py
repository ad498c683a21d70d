"""Where the archive's pages live: root-relative paths on the web app, relative file paths in the static export.

Pages are rendered with one of these objects as ``links``, so the same templates serve both.
"""

from __future__ import annotations

import posixpath
import re

_EDITION_PATH = re.compile(r"^/archive/([a-z0-9][a-z0-9-]*)/?$")
_EVENT_PATH = re.compile(r"^/events/(\d+)\.ics$")


class Links:
    """The web app's paths (root-relative), plus the absolute URLs feeds and meta tags need."""

    live = True  # the dynamic app: search and subscription pages answer here

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def home(self) -> str:
        return "/"

    def archive(self, page: int = 1) -> str:
        return "/archive/" if page <= 1 else f"/archive/?page={page}"

    def edition(self, slug: str) -> str:
        return f"/archive/{slug}"

    def editions_feed(self) -> str:
        return "/archive/feed.xml"

    def items_feed(self) -> str:
        return "/archive/items.xml"

    def events_calendar(self) -> str:
        return "/events.ics"

    def event(self, item_id: int) -> str:
        return f"/events/{item_id}.ics"

    def search(self) -> str | None:
        return "/archive/search"

    def subscribe(self) -> str:
        return "/subscribe"

    def submit(self) -> str:
        return "/submit"

    def privacy(self) -> str:
        return "/privacy"

    def favicon(self) -> str:
        return "/favicon.ico"

    def absolute(self, path: str) -> str:
        """An absolute URL on the site for a web path ("/archive/x" -> "https://site/archive/x")."""
        return self.base_url + path

    def canonical_edition(self, slug: str) -> str:
        return self.absolute(f"/archive/{slug}")


class StaticLinks(Links):
    """Relative links between the files of the static export, seen from the file at ``page_path``.

    The export mirrors the web paths (``archive/<slug>/index.html`` answers ``/archive/<slug>/``), and
    every link names its file, so the pages work from any subfolder and even straight from the disk.
    """

    live = False

    def __init__(self, base_url: str, page_path: str = "index.html") -> None:
        super().__init__(base_url)
        self.page_path = page_path

    def at(self, page_path: str) -> StaticLinks:
        return StaticLinks(self.base_url, page_path)

    def relative(self, target: str) -> str:
        start = posixpath.dirname(self.page_path) or "."
        return posixpath.relpath(target, start)

    def home(self) -> str:
        return self.relative("index.html")

    def archive(self, page: int = 1) -> str:
        return self.relative(archive_file(page))

    def edition(self, slug: str) -> str:
        return self.relative(edition_file(slug))

    def editions_feed(self) -> str:
        return self.relative("archive/feed.xml")

    def items_feed(self) -> str:
        return self.relative("archive/items.xml")

    def events_calendar(self) -> str:
        return self.relative("events.ics")

    def event(self, item_id: int) -> str:
        return self.relative(event_file(item_id))

    def search(self) -> str | None:
        return None  # searching needs the database: the static export has no search page

    def subscribe(self) -> str:
        return self.absolute("/subscribe")  # subscribing needs the web app

    def submit(self) -> str:
        return self.absolute("/submit")  # so does submitting

    def privacy(self) -> str:
        return self.absolute("/privacy")

    def favicon(self) -> str:
        return self.absolute("/favicon.ico")  # served by the web app, as the forms are

    def canonical_edition(self, slug: str) -> str:
        return self.absolute(f"/archive/{slug}/")  # a static server answers the folder, not the bare name


def archive_file(page: int) -> str:
    return "archive/index.html" if page <= 1 else f"archive/page/{page}/index.html"


def edition_file(slug: str) -> str:
    return f"archive/{slug}/index.html"


def event_file(item_id: int) -> str:
    return f"events/{item_id}.ics"


def export_file_for(web_path: str) -> str | None:
    """The export's file for a web path of the archive ("/archive/x" -> "archive/x/index.html"), else None."""
    path = web_path or "/"
    fixed = {
        "/": "index.html",
        "/archive": "archive/index.html",
        "/archive/": "archive/index.html",
        "/archive/feed.xml": "archive/feed.xml",
        "/archive/items.xml": "archive/items.xml",
        "/events.ics": "events.ics",
    }
    if path in fixed:
        return fixed[path]
    if match := _EVENT_PATH.match(path):
        return event_file(int(match.group(1)))
    if match := _EDITION_PATH.match(path):
        return edition_file(match.group(1))
    return None
