"""The archive on the web app: home page, archive index and editions, feeds, search, calendars."""

from __future__ import annotations

from flask import Blueprint, Response, abort, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from archive import pages
from archive.calendar import calendar_file
from archive.feeds import editions_feed_xml, items_feed_xml
from archive.links import Links
from archive.published import readable_edition, upcoming_events, vetted_event
from archive.search import search
from digest.models import utcnow
from digest.web.context import runtime

blueprint = Blueprint("archive", __name__)

MAX_QUERY = 200
CACHE_SECONDS = 300


def _links() -> Links:
    return Links(runtime().config.site.base_url)


def _cached(body: str | bytes, mimetype: str, filename: str | None = None) -> Response:
    response = make_response(body)
    response.mimetype = mimetype
    if mimetype.startswith(("text/", "application/atom")):
        response.charset = "utf-8"
    if filename:
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.add_etag()
    return response.make_conditional(request)


@blueprint.get("/")
def home() -> ResponseReturnValue:
    with runtime().sessions() as session:
        return pages.home_page(render_template, session, runtime().config.site, _links())


@blueprint.get("/archive/")
def index() -> ResponseReturnValue:
    number = request.args.get("page", 1, type=int)
    with runtime().sessions() as session:
        page = pages.index_page(render_template, session, runtime().config.site, _links(), number)
    if page is None:
        abort(404)
    return page


@blueprint.get("/archive/<slug>")
def edition(slug: str) -> ResponseReturnValue:
    with runtime().sessions() as session:
        found = readable_edition(session, slug)
        if found is None:
            abort(404)
        html = pages.edition_page_html(render_template, session, runtime().config, _links(), found)
    response = make_response(html)
    if found.status == "sent":
        response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response


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
    with runtime().sessions() as session:
        body = editions_feed_xml(render_template, session, runtime().config.site, _links())
    return _cached(body, "application/atom+xml")


@blueprint.get("/archive/items.xml")
def items() -> ResponseReturnValue:
    with runtime().sessions() as session:
        body = items_feed_xml(render_template, session, runtime().config.site, _links())
    return _cached(body, "application/atom+xml")


@blueprint.get("/events.ics")
def events() -> ResponseReturnValue:
    site = runtime().config.site
    with runtime().sessions() as session:
        upcoming = upcoming_events(session, utcnow())
        body = calendar_file(upcoming, site.base_url, site.name, site.timezone, f"{site.name}: upcoming events")
    return _cached(body, "text/calendar", "events.ics")


@blueprint.get("/events/<int:item_id>.ics")
def event(item_id: int) -> ResponseReturnValue:
    site = runtime().config.site
    with runtime().sessions() as session:
        item = vetted_event(session, item_id)
        if item is None:
            abort(404)
        body = calendar_file([item], site.base_url, site.name, site.timezone, item.title)
    return _cached(body, "text/calendar", f"event-{item_id}.ics")
