"""Admins managing editors' accounts: change a role, set a new password, remove an account.
(Creating one is digest.editors.accounts.add_editor.) There is always at least one admin left."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from digest.editors.accounts import MIN_PASSWORD_LENGTH, EditorError
from digest.models import EDITOR_ROLES, Editor


def get_account(session: Session, editor_id: int) -> Editor:
    editor = session.get(Editor, editor_id)
    if editor is None:
        raise EditorError(f"no editor account with id {editor_id}")
    return editor


def list_accounts(session: Session) -> list[Editor]:
    return list(session.scalars(select(Editor).order_by(Editor.email)))


def set_role(session: Session, editor_id: int, role: str) -> Editor:
    if role not in EDITOR_ROLES:
        raise EditorError(f"unknown role {role!r}; use one of {', '.join(EDITOR_ROLES)}")
    editor = get_account(session, editor_id)
    if editor.role == "admin" and role != "admin":
        _keep_an_admin(session, editor)
    editor.role = role
    return editor


def set_password(session: Session, editor_id: int, password: str) -> Editor:
    """A new password; every session of the account ends with the old one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise EditorError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    editor = get_account(session, editor_id)
    editor.password_hash = generate_password_hash(password, method="scrypt")
    return editor


def remove_account(session: Session, editor_id: int, by: Editor) -> str:
    editor = get_account(session, editor_id)
    if editor.id == by.id:
        raise EditorError("you cannot remove your own account; ask another admin")
    if editor.role == "admin":
        _keep_an_admin(session, editor)
    email = editor.email
    session.delete(editor)  # their audit lines stay, with their address as the actor
    return email


def _keep_an_admin(session: Session, leaving: Editor) -> None:
    others = session.scalar(select(func.count(Editor.id)).where(Editor.role == "admin", Editor.id != leaving.id))
    if not others:
        raise EditorError(f"{leaving.email} is the last admin; make someone else admin first")
