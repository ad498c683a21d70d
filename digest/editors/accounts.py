"""Editor accounts: created from the command line, checked at login."""

from __future__ import annotations

import functools

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from digest.errors import DigestError
from digest.models import EDITOR_ROLES, Editor
from digest.subscribers.roster import SubscriberError, normalise_email

MIN_PASSWORD_LENGTH = 10


@functools.cache
def _unknown_editor_hash() -> str:
    """Checked against when the address is unknown, so a login takes as long either way."""
    return generate_password_hash("not-a-real-password", method="scrypt")


class EditorError(DigestError):
    """An account operation that cannot be done, worded for the user."""


def add_editor(session: Session, email: str, password: str, role: str = "editor") -> Editor:
    if role not in EDITOR_ROLES:
        raise EditorError(f"unknown role {role!r}; use one of {', '.join(EDITOR_ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise EditorError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    try:
        address = normalise_email(email)
    except SubscriberError as error:
        raise EditorError(str(error)) from None
    if find_editor(session, address):
        raise EditorError(f"an editor {address} already exists")
    editor = Editor(email=address, password_hash=generate_password_hash(password, method="scrypt"), role=role)
    session.add(editor)
    session.flush()
    return editor


def find_editor(session: Session, email: str) -> Editor | None:
    return session.scalar(select(Editor).where(Editor.email == email.strip().lower()))


def authenticate(session: Session, email: str, password: str) -> Editor | None:
    editor = find_editor(session, email)
    if editor is None:
        check_password_hash(_unknown_editor_hash(), password)
        return None
    return editor if check_password_hash(editor.password_hash, password) else None
