"""Submissions from cluster organisations: the form (/submit), the JSON API (POST /api/submissions) and
the status page a submitter's link opens (/submit/status/<token>).

Both ways in share the fields and rules of `submission_form`, the per-address rate limit and the
body size limit, and store through `sources.submissions`. The form carries a CSRF token (checked by
the form itself, after the limits); the API has no browser session to protect, so it has none.
A form with the hidden honeypot field filled is answered like any other and stored nowhere.
"""

from __future__ import annotations

import io
import logging
import math
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestEntityTooLarge

from digest.config import SubmissionsConfig
from digest.models import Submission
from digest.submissions.status import KIND_LABELS, standing, status_path, submission_id_from, submitted_title
from digest.subscribers.tokens import TokenError
from digest.web.api_errors import error_response, errors_response, problem
from digest.web.context import runtime
from digest.web.limits import Budget, limiter_of, retry_after
from digest.web.private import keep_private
from digest.web.submission_form import HONEYPOT, SubmissionForm, formdata_from_json
from sources.submissions import submit as store

log = logging.getLogger(__name__)
blueprint = Blueprint("submission", __name__)
THROTTLE_KEY = "digest.submission_confirmations"


@blueprint.record_once
def _set_up(state: BlueprintSetupState) -> None:
    app = state.app
    settings: SubmissionsConfig = app.extensions["digest.runtime"].config.submissions
    app.extensions["csrf"].exempt(submit_form)  # the form checks its own token, after the limits
    app.extensions["csrf"].exempt(submit_json)  # no browser session: rate-limited instead
    app.extensions[THROTTLE_KEY] = Budget(
        app, f"{settings.confirmations_per_address_per_hour} per hour", "submission-confirmations-to"
    )
    # On the whole blueprint, so Flask-Limiter checks it in its own before_request, ahead of `_limits`
    # below: every attempt counts, even one too large to read. One count for the form and the API.
    limiter_of(app).shared_limit(
        f"{settings.rate_limit_per_hour} per hour",
        scope="submissions",
        key_func=client_address,
        methods=["POST"],
        on_breach=lambda limit: _too_many(retry_after(limit)),
    )(blueprint)


def _settings() -> SubmissionsConfig:
    return runtime().config.submissions


def _api() -> bool:
    return request.path.startswith("/api/")


@blueprint.before_request
def _limits() -> ResponseReturnValue | None:
    """Before anything reads the body (and after the rate limit): the size limit."""
    if request.method != "POST":
        return None
    limit = _settings().max_body_bytes
    request.max_content_length = limit
    if request.content_length is None and not _buffer_unsized_body(limit):
        return _too_large()
    if request.content_length is not None and request.content_length > limit:
        return _too_large()
    return None


def _buffer_unsized_body(limit: int) -> bool:
    """A body sent without its length (chunked, from a server that streams it): read up to the limit and
    hand it on as a sized body; False when there is more. (Werkzeug would silently cut it at the limit.)"""
    environ = request.environ
    if "wsgi.input_terminated" not in environ:
        return True  # no body can be read without a length
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        return False
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    for chunked in ("wsgi.input_terminated", "HTTP_TRANSFER_ENCODING"):
        environ.pop(chunked, None)
    return True


@blueprint.errorhandler(RequestEntityTooLarge)
def _body_too_large(_error: RequestEntityTooLarge) -> ResponseReturnValue:
    return _too_large()


@blueprint.after_request
def _private(response: Response) -> Response:
    """The status page is the submitter's own: its address holds their token."""
    return keep_private(response) if request.endpoint == "submission.status" else response


# --------------------------------------------------------------------------- the form


@blueprint.route("/submit", methods=["GET", "POST"])
def submit_form() -> ResponseReturnValue:
    form = _form()
    if request.method == "GET":
        return render_template("submit.html", form=form)
    if form.honeypot_filled():
        log.info("a submission from %s filled the honeypot; not stored", client_address())
        return render_template("submit_done.html", submission=None)
    if not form.validate_on_submit():
        return render_template("submit.html", form=form, expired=bool(form.csrf_token.errors)), 400
    submission = _store(form)
    return render_template(
        "submit_done.html",
        submission=submission,
        title=submitted_title(submission),
        status_path=status_path(runtime().secret_key, submission.id),
    )


def _form(**kwargs: Any) -> SubmissionForm:
    return SubmissionForm(default_timezone=runtime().config.site.timezone, **kwargs)


# --------------------------------------------------------------------------- the API


@blueprint.post("/api/submissions")
def submit_json() -> ResponseReturnValue:
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        message = "Send one JSON object (Content-Type: application/json) with the submission's fields."
        return error_response(message, 400)
    formdata, problems = formdata_from_json(body)
    form = _form(formdata=formdata, meta={"csrf": False})
    form.validate()
    if form.honeypot_filled():
        problems.append(problem(HONEYPOT, "Leave this field out: it is a trap for robots."))
    shaped = {problem["field"] for problem in problems}
    errors = problems + [error for error in form.field_errors() if error["field"] not in shaped]
    if errors:
        return errors_response(errors, 422)
    submission = _store(form)
    url = runtime().config.site.base_url + status_path(runtime().secret_key, submission.id)
    answer = jsonify(id=submission.id, status=submission.status, item_id=submission.item_id, status_url=url)
    answer.status_code = 201
    answer.headers["Location"] = url
    return answer


# --------------------------------------------------------------------------- storing, confirming


def _store(form: SubmissionForm) -> Submission:
    """Store it; the worker sends the confirmation (unless this address had its share this hour)."""
    submitted = form.submitted_item()
    confirm = current_app.extensions[THROTTLE_KEY].spend(submitted.contact_email)
    return store(runtime(), submitted, client_address(), confirm=confirm)


# --------------------------------------------------------------------------- the status page


@blueprint.get("/submit/status/<token>")
def status(token: str) -> ResponseReturnValue:
    try:
        submission_id = submission_id_from(runtime().secret_key, token)
    except (TokenError, ValueError):
        return render_template("submit_status.html", submission=None), 404
    with runtime().sessions() as session:
        submission = session.get(Submission, submission_id, options=[selectinload(Submission.item)])
        if submission is None:
            return render_template("submit_status.html", submission=None), 404
        now = standing(session, submission)
    return render_template(
        "submit_status.html", submission=submission, title=submitted_title(submission), now=now, kinds=KIND_LABELS
    )


# --------------------------------------------------------------------------- refusals


def client_address() -> str:
    """The client's address (behind `web.trusted_proxies` reverse proxies, ProxyFix has put the one they
    forwarded here)."""
    return (request.remote_addr or "unknown")[:64]


def _too_many(wait: int) -> Response:
    minutes = max(1, math.ceil(wait / 60))
    message = (
        f"Too many submissions from your address: at most {_settings().rate_limit_per_hour} an hour. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    if _api():
        return error_response(message, 429, {"Retry-After": str(wait)})
    response = current_app.make_response(
        render_template("submit_refused.html", heading="Please wait a little", message=message)
    )
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


def _too_large() -> ResponseReturnValue:
    limit_kb = _settings().max_body_bytes // 1024
    message = (
        f"This submission is too large: at most {limit_kb} KB may be sent. "
        "Shorten the summary (3,000 characters at most) and send it again."
    )
    if _api():
        return error_response(message, 413)
    return render_template("submit_refused.html", heading="Too large to send", message=message), 413
