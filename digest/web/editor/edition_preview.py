"""The preview of an edition (/editor/editions/<id>/preview and preview.txt): the HTML and text parts
exactly as subscribers get them, framed on the edition's page at desktop and phone widths."""

from __future__ import annotations

import html

from flask import Response, current_app
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from digest.errors import DigestError
from digest.models import Edition
from digest.web.context import runtime
from digest.web.editor.actions import found_or_404
from digest.web.editor.auth import login_required
from digest.web.editor.blueprint import blueprint
from digest.web.editor.preview import Preview, PreviewCache, preview

CACHE_KEY = "digest.preview_cache"
# The preview is the subscribers' email: no script runs in it, whether framed or opened on its own.
PREVIEW_POLICY = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; "
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
)


@blueprint.record_once
def _set_up(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault(CACHE_KEY, PreviewCache())


@blueprint.get("/editions/<int:edition_id>/preview")
@login_required
def edition_preview(edition_id: int) -> ResponseReturnValue:
    try:
        found = _preview(edition_id)
    except DigestError as error:  # nothing left to send, a template that does not render: say so in the frame
        page = f"<!doctype html><meta charset=utf-8><p style='font:15px system-ui'>{html.escape(str(error))}"
        return _framed(Response(page, status=422, mimetype="text/html"))
    return _framed(Response(found.html, mimetype="text/html"))


@blueprint.get("/editions/<int:edition_id>/preview.txt")
@login_required
def edition_preview_text(edition_id: int) -> ResponseReturnValue:
    try:
        found = _preview(edition_id)
    except DigestError as error:
        return _framed(Response(str(error), status=422, mimetype="text/plain"))
    return _framed(Response(found.text, mimetype="text/plain"))


def _preview(edition_id: int) -> Preview:
    with runtime().sessions() as session:
        found_or_404(session, Edition, edition_id)
        return preview(runtime(), current_app.extensions[CACHE_KEY], session, edition_id)


def _framed(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["Cache-Control"] = "no-store"
    return response
