"""Editor accounts: who may log in, with which role and password; checked at login.

Adding one, changing a role or a password and removing one are editorial actions with their audit
line, the same from the command line and the editors' app. There is always at least one admin left.
"""

from __future__ import annotations

import functools

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from digest import audit
from digest.errors import DigestError, required
from digest.models import EDITOR_ROLES, Editor, utcnow
from digest.subscribers.roster import SubscriberError, normalise_email

MIN_PASSWORD_LENGTH = 10


@functools.cache
def _unknown_editor_hash() -> str:
    """Checked against when the address is unknown, so a login takes as long either way."""
    return generate_password_hash("not-a-real-password", method="scrypt")


class EditorError(DigestError):
    """An account operation that cannot be done, worded for the user."""


def add_editor(session: Session, actor: audit.Actor, email: str, password: str, role: str = "editor") -> Editor:
    """A new account ("editor.added")."""
    _check_role(role)
    _check_password(password)
    try:
        address = normalise_email(email)
    except SubscriberError as error:
        raise EditorError(str(error)) from None
    if find_editor(session, address):
        raise EditorError(f"an editor {address} already exists")
    editor = Editor(email=address, password_hash=_hash(password), role=role)
    session.add(editor)
    session.flush()
    audit.record(session, actor, "editor.added", "editor", editor.id, {"email": editor.email, "role": editor.role})
    return editor


def find_editor(session: Session, email: str) -> Editor | None:
    return session.scalar(select(Editor).where(Editor.email == email.strip().lower()))


def get_account(session: Session, editor_id: int) -> Editor:
    return required(session.get(Editor, editor_id), EditorError, f"no editor account with id {editor_id}")


def named_account(session: Session, email: str) -> Editor:
    missing = f"no editor account {email.strip()} (see `digest editors list`)"
    return required(find_editor(session, email), EditorError, missing)


def list_accounts(session: Session) -> list[Editor]:
    return list(session.scalars(select(Editor).order_by(Editor.email)))


def set_role(session: Session, actor: audit.Actor, editor: Editor, role: str) -> Editor:
    """Make the account an editor or an admin ("editor.role_changed"); never the last admin an editor."""
    _check_role(role)
    if editor.role == "admin" and role != "admin":
        _keep_an_admin(session, editor)
    editor.role = role
    audit.record(session, actor, "editor.role_changed", "editor", editor.id, {"role": editor.role})
    return editor


def set_password(session: Session, actor: audit.Actor, editor: Editor, password: str) -> Editor:
    """A new password ("editor.password_set"); every session of the account ends with the old one."""
    _check_password(password)
    editor.password_hash = _hash(password)
    end_sessions(editor)
    audit.record(session, actor, "editor.password_set", "editor", editor.id)
    return editor


def remove_account(session: Session, actor: audit.Actor, editor: Editor) -> str:
    """Delete the account ("editor.removed"); its audit lines stay, with its address as the actor."""
    if editor.id == actor.editor_id:
        raise EditorError("you cannot remove your own account; ask another admin")
    if editor.role == "admin":
        _keep_an_admin(session, editor)
    email = editor.email
    audit.record(session, actor, "editor.removed", "editor", editor.id, {"email": email})
    session.delete(editor)
    return email


def authenticate(session: Session, email: str, password: str) -> Editor | None:
    editor = find_editor(session, email)
    if editor is None:
        check_password_hash(_unknown_editor_hash(), password)
        return None
    return editor if check_password_hash(editor.password_hash, password) else None


def log_in(session: Session, email: str, password: str, client: str) -> Editor | None:
    """The account these credentials open, its login time and audit line written; None when they open none."""
    editor = authenticate(session, email, password) if email and password else None
    if editor is not None:
        editor.last_login_at = utcnow()
        audit.record(session, audit.Actor.of(editor), "editor.logged_in", "editor", editor.id, {"client": client})
    return editor


def log_out(session: Session, actor: audit.Actor) -> None:
    """Ends every session of the account, not only the one logging out: a copied cookie dies with it."""
    editor = session.get(Editor, actor.editor_id) if actor.editor_id is not None else None
    if editor is not None:
        end_sessions(editor)
    audit.record(session, actor, "editor.logged_out", "editor", actor.editor_id)


def end_sessions(editor: Editor) -> None:
    """Every session opened before this one stops being accepted (the web checks the version on each request)."""
    editor.session_version = (editor.session_version or 0) + 1


def _check_role(role: str) -> None:
    if role not in EDITOR_ROLES:
        raise EditorError(f"unknown role {role!r}; use one of {', '.join(EDITOR_ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise EditorError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def _hash(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def _keep_an_admin(session: Session, leaving: Editor) -> None:
    others = session.scalar(select(func.count(Editor.id)).where(Editor.role == "admin", Editor.id != leaving.id))
    if not others:
        raise EditorError(f"{leaving.email} is the last admin; make someone else admin first")
