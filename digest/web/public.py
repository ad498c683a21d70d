"""Public pages: the health check, the privacy notice, the favicon, and the pages that say something is
not there or went wrong. (The home page and the archive live in the `archive` package.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template, request, send_file
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from archive.links import Links
from digest.rendering import dates
from digest.runtime import Runtime
from digest.web.context import runtime

blueprint = Blueprint("public", __name__)
FAVICON = Path(__file__).resolve().parent / "static" / "favicon.ico"


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    with runtime().sessions() as session:
        session.execute(text("SELECT 1"))
    return jsonify(status="ok", database="ok")


@blueprint.get("/privacy")
def privacy() -> ResponseReturnValue:
    config = runtime().config
    return render_template("privacy.html", active="privacy", sender=parseaddr(config.mail.from_address)[1])


@blueprint.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    return send_file(FAVICON, mimetype="image/vnd.microsoft.icon", max_age=7 * 24 * 3600)


def install(app: Flask) -> None:
    """Every public template gets `links` (where the site's pages live); public errors get the site's look."""
    links = Links(runtime_of(app).config.site.base_url)
    app.context_processor(lambda: {"links": links})
    app.register_error_handler(HTTPException, styled_error)


def styled_error(error: HTTPException) -> ResponseReturnValue:
    """A 404, 405, 413… on a public page, in the site's layout (the API keeps its JSON answers)."""
    if error.code is None or error.code < 400 or error.response is not None:
        return error  # a view or an extension (Flask-Limiter's refusals) already wrote the answer
    headers = {key: value for key, value in error.get_headers() if key.lower() != "content-type"}
    if request.path.startswith("/api/") or request.is_json:
        return jsonify(errors=[{"field": None, "message": error.description}]), error.code, headers
    heading = HEADINGS.get(error.code, error.name)
    template = "editor_error.html" if request.path.startswith("/editor/") else "error.html"
    page = render_template(template, status=error.code, heading=heading, title=heading, message=error.description)
    return page, error.code, headers


HEADINGS = {
    400: "This request could not be understood",
    403: "You may not open this page",
    404: "Page not found",
    405: "This page cannot be used that way",
    413: "What you sent is too large",
    429: "Too many requests",
    500: "Something went wrong on our side",
}


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["digest.runtime"]


def local_time_filter(timezone: str) -> Callable[[datetime | None], str]:
    """A moment of ours in the site's zone, with the zone: "5 Jan 2020, 09:00 CET"."""
    zone = dates.zone(timezone)

    def local_time(value: datetime | None) -> str:
        return dates.local_moment(value, zone)

    return local_time


def item_dates_filter(timezone: str) -> Callable[[Any], str]:
    """An item's event dates or deadline as the source meant them (digest.rendering.dates)."""

    def item_when(item: Any) -> str:
        return dates.item_dates(item, timezone) or ""

    return item_when
