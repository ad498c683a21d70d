"""The click redirect, /l/<token> (and /l/<token>/<delivery tag> with analytics.per_subscriber): count
the click (digest.analytics.clicks) and answer 302 to the edition's own link at once. A token that does
not read or names no link is 404: the target always comes from the database, never from the request."""

from __future__ import annotations

import math

from flask import Blueprint, Response, abort, redirect, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_limiter import RequestLimit

from digest.analytics.clicks import UnknownLink, follow
from digest.analytics.prefetch import is_prefetch
from digest.web.context import runtime
from digest.web.limits import limiter_of, protect, retry_after
from digest.web.private import keep_private

blueprint = Blueprint("clicks", __name__)
blueprint.after_request(keep_private)  # not cached (every click must reach us), token never sent on


@blueprint.get("/l/<token>")
@blueprint.get("/l/<token>/<tag>")
def follow_link(token: str, tag: str | None = None) -> ResponseReturnValue:
    settings = runtime().config.analytics
    counted = not is_prefetch(request.method, request.headers)
    try:
        with runtime().sessions() as session, session.begin():
            url = follow(session, runtime().secret_key, token, tag, counted, settings.per_subscriber)
    except UnknownLink:
        abort(404)
    return redirect(url, 302)


def _too_many(limit: RequestLimit) -> Response:
    wait = retry_after(limit)
    response = Response(f"Too many requests: try again in {math.ceil(wait)} seconds.\n", 429, mimetype="text/plain")
    response.headers["Retry-After"] = str(wait)
    return response


@blueprint.record_once
def _set_up(state: BlueprintSetupState) -> None:
    """Bound the redirect per client like the other public pages; tell the preferences page what is kept."""
    settings = state.app.extensions["digest.runtime"].config.analytics
    limit = limiter_of(state.app).limit(f"{settings.clicks_per_minute} per minute", on_breach=_too_many)
    protect(state.app, "clicks.follow_link", limit)
    state.app.jinja_env.globals["analytics"] = settings
