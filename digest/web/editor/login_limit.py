"""The login's limits: failed attempts per client address, and per account from one client address.

Only failures (401) count, and only POSTs: opening the page, or a HEAD, is no attempt. An account's
failures are counted per client address that made them, so someone failing an editor's password
from elsewhere slows down only their own addresses, never the editor (who still gets in from their
own). A successful login clears its account's count from that address, so an editor's own typos
never lock them out. The counts live in the app's rate-limit storage (`limits.storage_url`).
"""

from __future__ import annotations

import math

from flask import Flask, Response, current_app, flash, render_template, request

from digest.web.limits import Budget, client_address, limiter_of, protect, retry_after

WINDOW = "15 minutes"
ACCOUNT_BUDGET = "digest.login_account_budget"


def install(app: Flask) -> None:
    settings = app.extensions["digest.runtime"].config.limits
    per_client = limiter_of(app).limit(
        f"{settings.login_failures_per_client} per {WINDOW}",
        methods=["POST"],
        deduct_when=lambda response: response.status_code == 401,
        on_breach=lambda limit: refusal("client", retry_after(limit)),
    )
    protect(app, "editor.login", per_client)
    app.extensions[ACCOUNT_BUDGET] = Budget(
        app, f"{settings.login_failures_per_account} per {WINDOW}", "login-account"
    )


def _account(email: str) -> str:
    return f"{email.strip().lower()}|{client_address()}"


def account_refused(email: str) -> Response | None:
    """The refusal when this client has failed this account too often, else None."""
    wait = current_app.extensions[ACCOUNT_BUDGET].refused_for(_account(email))
    return None if wait is None else refusal("account", wait)


def failed(email: str) -> None:
    current_app.extensions[ACCOUNT_BUDGET].spend(_account(email))


def succeeded(email: str) -> None:
    current_app.extensions[ACCOUNT_BUDGET].clear(_account(email))


def refusal(reason: str, wait: int) -> Response:
    minutes = max(1, math.ceil(wait / 60))
    when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    if reason == "account":
        message = f"Too many failed logins for this address from your network. Try again in {when}."
    else:
        message = f"Too many failed logins from your network. Try again in {when}."
    flash(message, "error")
    email = (request.form.get("email") or "").strip()
    response = current_app.make_response((render_template("login.html", email=email), 429))
    response.headers["Retry-After"] = str(wait)
    return response
