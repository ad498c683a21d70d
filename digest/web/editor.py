"""The editors' pages: login, logout and the queue."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from digest.editors import authenticate
from digest.models import ITEM_KINDS, ITEM_STATUSES, Editor, utcnow
from digest.queue import list_items
from digest.web.context import runtime

blueprint = Blueprint("editor", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        editor_id = session.get("editor_id")
        with runtime().sessions() as db:
            editor = db.get(Editor, editor_id) if editor_id else None
        if editor is None:
            return redirect(url_for("editor.login", next=request.path))
        g.editor = editor
        return view(*args, **kwargs)

    return wrapper


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        with runtime().sessions() as db, db.begin():
            editor = authenticate(db, form.email.data or "", form.password.data or "")
            if editor is not None:
                editor.last_login_at = utcnow()
        if editor is not None:
            session.clear()
            session.permanent = True
            session["editor_id"] = editor.id
            return redirect(_safe_next(request.args.get("next")))
        flash("That email and password do not match an editor account.", "error")
    return render_template("login.html", form=form), 200 if request.method == "GET" or form.errors else 401


def _safe_next(target: str | None) -> str:
    """Only ever redirect inside the editors' pages."""
    if target and target.startswith("/editor/") and not target.startswith("//"):
        return target
    return url_for("editor.queue")


@blueprint.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("editor.login"))


@blueprint.get("/")
@login_required
def queue() -> ResponseReturnValue:
    status = request.args.get("status") or "pending"
    kind = request.args.get("kind") or None
    if status not in ITEM_STATUSES:
        status = "pending"
    if kind not in ITEM_KINDS:
        kind = None
    with runtime().sessions() as db:
        items = list_items(db, status, kind)
    return render_template(
        "queue.html", items=items, status=status, kind=kind, statuses=ITEM_STATUSES, kinds=ITEM_KINDS
    )
