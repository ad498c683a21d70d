"""The archive on the web app: home page, archive index and editions, feeds, search, calendars.

Everything but search and an edition still being sent is built once and kept (`archive.kept`) until
an edition is sent, then served from the kept bytes with an ETag, Last-Modified and Cache-Control,
answering conditional requests with 304.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Flask, Response, abort, current_app, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy import and_, func, select

from archive import pages
from archive.calendar import calendar_file
from archive.feeds import editions_feed_xml, items_feed_xml
from archive.kept import FOLDER_NAME, Build, Kept, Shelf, accepts_gzip, fingerprint, kept
from archive.links import Links
from archive.published import VETTED_EVENT_STATUSES, readable_edition, upcoming_events, vetted_event
from archive.replay import REPLAYABLE, Replay, Replayable
from archive.search import search
from digest.models import Item, utcnow
from digest.rendering.render import DEFAULT_TEMPLATES_DIR
from digest.web.context import runtime

blueprint = Blueprint("archive", __name__)

MAX_QUERY = 200
CACHE_SECONDS = 60  # how long a browser or proxy may show a kept response without asking (then: 304)
SHELF = "archive.shelf"


@blueprint.record_once
def _install_shelf(state: BlueprintSetupState) -> None:
    app: Flask = state.app
    running = app.extensions["digest.runtime"]
    folders = (DEFAULT_TEMPLATES_DIR / "web", DEFAULT_TEMPLATES_DIR / "email")
    shelf = Shelf(running.config.var_dir / FOLDER_NAME, running.engine, fingerprint(folders, running.config.site))
    app.extensions[SHELF] = shelf
    app.wsgi_app = Replay(app.wsgi_app, shelf)  # type: ignore[method-assign]  # kept answers again, without Flask


def _shelf() -> Shelf:
    return current_app.extensions[SHELF]


def _links() -> Links:
    return Links(runtime().config.site.base_url)


def _answer(found: Kept, generation: str, replayable: bool = True) -> Response:
    """The kept bytes (gzipped when the reader takes it), or 304 when the reader's copy (If-None-Match /
    If-Modified-Since) is current. A replayable answer depends on nothing but the generation:
    `archive.replay` may answer it again."""
    body, etag, encoding = found.variant(accepts_gzip(request.headers.get("Accept-Encoding")))
    if replayable:
        request.environ[REPLAYABLE] = Replayable(generation, body, etag, found.last_modified)
    response = Response(body, mimetype=found.mimetype)
    if found.mimetype.startswith(("text/", "application/atom")):
        response.charset = "utf-8"
    if found.filename:
        response.headers["Content-Disposition"] = f'inline; filename="{found.filename}"'
    if encoding:
        response.headers["Content-Encoding"] = encoding
    if found.gzipped is not None:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.set_etag(etag)
    response.last_modified = found.last_modified
    return response.make_conditional(request)


def _served(name: str, build: Build, replayable: bool = True) -> Response:
    generation = _shelf().generation()
    found = _shelf().fetch(generation, name, build)
    if found is None:
        abort(404)
    return _answer(found, generation, replayable)


@blueprint.get("/")
def home() -> ResponseReturnValue:
    def build() -> Kept:
        with runtime().sessions() as session:
            return kept(pages.home_page(render_template, session, runtime().config.site, _links()), "text/html")

    return _served("home", build)


@blueprint.get("/archive/")
def index() -> ResponseReturnValue:
    number = request.args.get("page", 1, type=int)

    def build() -> Kept | None:
        with runtime().sessions() as session:
            page = pages.index_page(render_template, session, runtime().config.site, _links(), number)
        return None if page is None else kept(page, "text/html")

    return _served(f"index/{number}", build)


@blueprint.get("/archive/<slug>")
def edition(slug: str) -> ResponseReturnValue:
    def build() -> Kept | None:  # sent editions only: one still being sent changes when it is done
        with runtime().sessions() as session:
            found = readable_edition(session, slug)
            if found is None or found.status != "sent":
                return None
            html = pages.edition_page_html(render_template, session, runtime().config, _links(), found)
        return kept(html, "text/html")

    generation = _shelf().generation()
    found = _shelf().fetch(generation, f"edition/{slug}", build)
    return _answer(found, generation) if found is not None else _edition_being_sent(slug)


def _edition_being_sent(slug: str) -> ResponseReturnValue:
    with runtime().sessions() as session:
        found = readable_edition(session, slug)
        if found is None:
            abort(404)
        return pages.edition_page_html(render_template, session, runtime().config, _links(), found)


@blueprint.get("/archive/<slug>/")
def edition_folder(slug: str) -> ResponseReturnValue:
    return redirect(url_for("archive.edition", slug=slug), code=301)


@blueprint.get("/archive/search")
def search_page() -> ResponseReturnValue:
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    with runtime().sessions() as session:
        results = search(session, query)
        return pages.search_page(render_template, runtime().config.site, _links(), results)


@blueprint.get("/archive/feed.xml")
def feed() -> ResponseReturnValue:
    def build() -> Kept:
        with runtime().sessions() as session:
            body = editions_feed_xml(render_template, session, runtime().config.site, _links())
        return kept(body, "application/atom+xml")

    return _served("feed", build)


@blueprint.get("/archive/items.xml")
def items() -> ResponseReturnValue:
    def build() -> Kept:
        with runtime().sessions() as session:
            body = items_feed_xml(render_template, session, runtime().config.site, _links())
        return kept(body, "application/atom+xml")

    return _served("items", build)


def _events_state() -> str:
    """What the calendars also follow besides sends: an editor approving or changing an event (approved
    events are listed before an edition carries them) and the hour (events that ended drop out)."""
    with runtime().sessions() as session:
        vetted = and_(Item.status.in_(VETTED_EVENT_STATUSES), Item.kind == "event")
        count, changed = session.execute(select(func.count(Item.id), func.max(Item.updated_at)).where(vetted)).one()
    now = utcnow()
    return f"{count}/{changed.isoformat() if isinstance(changed, datetime) else changed}/{now:%Y%m%d%H}"


@blueprint.get("/events.ics")
def events() -> ResponseReturnValue:
    site = runtime().config.site

    def build() -> Kept:
        with runtime().sessions() as session:
            upcoming = upcoming_events(session, utcnow())
            title = f"{site.name}: upcoming events"
            body = calendar_file(upcoming, site.base_url, site.name, site.timezone, title)
        return kept(body, "text/calendar", "events.ics")

    return _served(f"events/{_events_state()}", build, replayable=False)  # follows more than the stamp


@blueprint.get("/events/<int:item_id>.ics")
def event(item_id: int) -> ResponseReturnValue:
    site = runtime().config.site

    def build() -> Kept | None:
        with runtime().sessions() as session:
            item = vetted_event(session, item_id)
            if item is None:
                return None
            body = calendar_file([item], site.base_url, site.name, site.timezone, item.title)
        return kept(body, "text/calendar", f"event-{item_id}.ics")

    return _served(f"event/{item_id}/{_events_state()}", build, replayable=False)
