"""Editors' accounts (/editor/editors, admins): who can log in, with which role."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest.editors.accounts import (
    MIN_PASSWORD_LENGTH,
    add_editor,
    get_account,
    list_accounts,
    remove_account,
    set_password,
    set_role,
)
from digest.models import EDITOR_ROLES
from digest.web.context import runtime
from digest.web.editor.actions import perform
from digest.web.editor.auth import admin_required, current_actor
from digest.web.editor.blueprint import blueprint


@blueprint.get("/editors")
@admin_required
def accounts() -> ResponseReturnValue:
    with runtime().sessions() as session:
        found = list_accounts(session)
    return render_template("editor_accounts.html", accounts=found, roles=EDITOR_ROLES, min_password=MIN_PASSWORD_LENGTH)


@blueprint.post("/editors")
@admin_required
def add_account() -> ResponseReturnValue:
    form = request.form

    def work(session: Session) -> str:
        email, password, role = form.get("email", ""), form.get("password", ""), form.get("role", "editor")
        editor = add_editor(session, current_actor(), email, password, role)
        return f"Added {editor.role} {editor.email}: give them their password in person or by phone."

    return perform(work, url_for("editor.accounts"))


@blueprint.post("/editors/<int:editor_id>/role")
@admin_required
def account_role(editor_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        editor = set_role(session, current_actor(), get_account(session, editor_id), request.form.get("role", ""))
        return f"{editor.email} is now {'an admin' if editor.role == 'admin' else 'an editor'}."

    return perform(work, url_for("editor.accounts"))


@blueprint.post("/editors/<int:editor_id>/password")
@admin_required
def account_password(editor_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        password = request.form.get("password", "")
        editor = set_password(session, current_actor(), get_account(session, editor_id), password)
        return f"New password set for {editor.email}; their open sessions have ended."

    return perform(work, url_for("editor.accounts"))


@blueprint.post("/editors/<int:editor_id>/remove")
@admin_required
def account_remove(editor_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        email = remove_account(session, current_actor(), get_account(session, editor_id))
        return f"Removed {email}."

    return perform(work, url_for("editor.accounts"))
