"""POST /api/bounces: an SMTP relay service reports bounces and complaints (digest.bounces.webhook).

The relay authenticates with ``Authorization: Bearer <bounces.webhook_token>``, compared in constant
time. Without a configured token the endpoint does not exist (404), so nobody can probe for one.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from digest.bounces.webhook import WebhookInvalid, record_webhook
from digest.web.context import runtime

blueprint = Blueprint("bounces_api", __name__)


@blueprint.record_once
def _set_up(state: BlueprintSetupState) -> None:
    state.app.extensions["csrf"].exempt(report_bounces)  # no browser session: the bearer token guards it


@blueprint.post("/api/bounces")
def report_bounces() -> ResponseReturnValue:
    expected = runtime().config.bounces.webhook_token
    if not expected:
        abort(404)
    if not _bearer_matches(expected):
        message = "Send the webhook token as Authorization: Bearer <token>."
        return jsonify(errors=[{"field": None, "message": message}]), 401, {"WWW-Authenticate": "Bearer"}
    body = request.get_json(silent=True) if request.is_json else None
    if body is None:
        message = "Send JSON (Content-Type: application/json): one report object or a list of them."
        return jsonify(errors=[{"field": None, "message": message}]), 400
    try:
        outcomes = record_webhook(runtime(), body)
    except WebhookInvalid as invalid:
        return jsonify(errors=[problem.as_json() for problem in invalid.problems]), 422
    return jsonify(reports=[outcome.as_json() for outcome in outcomes]), 200


def _bearer_matches(expected: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())
