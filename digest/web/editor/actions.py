"""How every editors' action runs: one transaction with its audit line, the outcome flashed, then back;
and what their pages share in reading a form or the row an address names."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import abort, flash, redirect, request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from digest.errors import DigestError
from digest.web.context import runtime

Row = TypeVar("Row")


class FormError(DigestError):
    """A form filled in a way that cannot be used, worded for the editor."""


def perform(work: Callable[[Session], str | None], back: str) -> Response:
    """Run ``work`` in a transaction; flash what it says (or the error that stopped it) and go ``back``.

    An error rolls the whole transaction back, audit line included: the trail only tells what happened.
    """
    try:
        with runtime().sessions() as session, session.begin():
            message = work(session)
    except DigestError as error:
        flash(str(error), "error")
    else:
        if message:
            flash(message, "ok")
    return redirect(back, 303)


def back_to(default: str) -> str:
    """Where a form asked to return to (a path inside the editors' pages), else ``default``."""
    return editor_path(request.form.get("back"), default)


def editor_path(target: str | None, default: str) -> str:
    """``target`` when it is a path inside the editors' pages (never another site, never a script)."""
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and parts.path.startswith("/editor/") and "\\" not in target:
        return target
    return default


def form_ids(name: str = "ids") -> list[int]:
    """The ids ticked or given in a form field (repeated or comma-separated)."""
    ids: list[int] = []
    for value in request.form.getlist(name):
        for part in value.replace(",", " ").split():
            if not part.isdigit():
                raise FormError(f"{part!r} is not an id")
            ids.append(int(part))
    return list(dict.fromkeys(ids))


def form_int(name: str, default: int | None = None) -> int:
    value = (request.form.get(name) or "").strip()
    if not value and default is not None:
        return default
    try:
        return int(value)
    except ValueError:
        raise FormError(f"{name} must be a whole number") from None


def plural(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"


def found_or_404(session: Session, model: type[Row], row_id: int) -> Row:
    """The row an address names, else a 404 page."""
    found = session.get(model, row_id)
    if found is None:
        abort(404)
    return found
