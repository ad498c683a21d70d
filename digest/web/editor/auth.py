"""Editors' accounts on the web: log in (rate limited), log out, and the guards every page wears."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from digest import audit
from digest.editors.accounts import log_in, log_out
from digest.models import Editor
from digest.web.api_errors import error_response
from digest.web.context import runtime
from digest.web.editor import login_limit
from digest.web.editor.blueprint import blueprint
from digest.web.limits import client_address


def session_key(editor: Editor) -> str:
    """Changes with the password and the session version (moved on by logging out and by a new password),
    so either ends every session of the account on the server side, whatever cookies were copied."""
    material = f"{editor.session_version}:{editor.password_hash}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


def current_editor() -> Editor:
    return g.editor


def current_actor() -> audit.Actor:
    """The logged-in editor, as the audit trail names them."""
    return audit.Actor.of(g.editor)


def is_admin() -> bool:
    editor = g.get("editor")
    return editor is not None and editor.role == "admin"


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        editor_id = session.get("editor_id")
        with runtime().sessions() as db:
            editor = db.get(Editor, editor_id) if editor_id else None
        if editor is None or session.get("editor_key") != session_key(editor):
            session.pop("editor_id", None)
            if request.path.endswith(".json"):
                return error_response("Your session ended: log in again.", 401)
            return redirect(url_for("editor.login", next=request.full_path.rstrip("?")))
        g.editor = editor
        return view(*args, **kwargs)

    wrapper.login_required = True  # type: ignore[attr-defined]
    return wrapper


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only admins: managing editors, sources and subscribers, and sending to everyone."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not is_admin():
            abort(403)
        return view(*args, **kwargs)

    return login_required(wrapper)


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    email = (request.form.get("email") or "").strip()
    if request.method != "POST":  # GET and HEAD only show the form: never an attempt
        return render_template("login.html", email="")
    refused = login_limit.account_refused(email)
    if refused is not None:
        return refused
    password = request.form.get("password") or ""
    with runtime().sessions() as db, db.begin():
        editor = log_in(db, email, password, client_address())
    if editor is None:
        login_limit.failed(email)
        flash("That email and password do not match an editor account.", "error")
        return render_template("login.html", email=email), 401
    login_limit.succeeded(email)
    session.clear()
    session.permanent = True
    session["editor_id"], session["editor_key"] = editor.id, session_key(editor)
    return redirect(_safe_next(request.args.get("next")))


def _safe_next(target: str | None) -> str:
    """Only ever redirect inside the editors' pages."""
    if target and target.startswith("/editor/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("editor.queue")


@blueprint.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    with runtime().sessions() as db, db.begin():
        log_out(db, current_actor())
    session.clear()
    flash("You are logged out.", "ok")
    return redirect(url_for("editor.login"), 303)


@blueprint.errorhandler(CSRFError)
def _expired_form(error: CSRFError) -> ResponseReturnValue:
    flash("The form had expired or came from elsewhere, so nothing was done. Please try again.", "error")
    return render_template("editor_error.html", title="Form expired", code=400), 400


@blueprint.errorhandler(403)
def _forbidden(error: Exception) -> ResponseReturnValue:
    message = "Only admins can do this: manage editors, sources and subscribers, and send editions to everyone."
    return render_template("editor_error.html", title="Admins only", message=message, code=403), 403


@blueprint.errorhandler(404)
def _not_found(error: Exception) -> ResponseReturnValue:
    return render_template("editor_error.html", title="Not found", message="There is nothing here.", code=404), 404


@blueprint.record_once
def _limit_logins(state: BlueprintSetupState) -> None:
    """After the login route is recorded, so its view exists when this runs."""
    login_limit.install(state.app)
