"""Answers for what the database cannot do right now, or cannot store, instead of a bare 500.

- A busy database (SQLite's "database is locked", a PostgreSQL lock or connection that fails, an exhausted
  pool) is 503 with Retry-After: the request may simply be sent again.
- A number too large for the database (a query string's ?page=99999999999999999999) is 400.
- A route's <int:…> above the database's integer range never matches: 404.
- A control character (NUL and the like, see digest.clean) in the path is 404, in a query string 400, and
  in an editors' form 422. The public forms and the JSON API strip them instead (CleanForm), so a reader
  who pasted one still gets through.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, jsonify, render_template_string, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.routing import IntegerConverter

from digest.clean import has_controls

RETRY_AFTER_SECONDS = 5
MAX_ID = 2**31 - 1  # PostgreSQL's integer: the type of every id column
_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy", "could not connect")
# PostgreSQL SQLSTATEs of a busy or unreachable server: connection exceptions, lock not available,
# query cancelled (a statement/lock timeout), insufficient resources, the server shutting down.
_BUSY_STATES = ("08", "55P03", "57014", "53", "57P01", "57P02", "57P03")


class BoundedIntegerConverter(IntegerConverter):
    """`<int:…>` as Werkzeug's, but only up to what an id column can hold: beyond it, no route (404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def is_busy(error: OperationalError) -> bool:
    """Whether the database failed because it is busy or unreachable (not because of a bug in a query)."""
    if error.connection_invalidated:
        return True
    state = getattr(error.orig, "sqlstate", None) or ""
    if state and any(state.startswith(prefix) for prefix in _BUSY_STATES):
        return True
    message = str(error.orig).lower()
    return any(words in message for words in _BUSY_WORDS)


def install(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(refuse_control_characters)

    @app.errorhandler(OperationalError)
    def database_busy(error: OperationalError) -> ResponseReturnValue:
        if not is_busy(error):
            raise error
        return _busy()

    @app.errorhandler(PoolTimeout)
    def pool_exhausted(_error: PoolTimeout) -> ResponseReturnValue:
        return _busy()

    @app.errorhandler(DataError)
    def data_error(error: DataError) -> ResponseReturnValue:
        if getattr(error.orig, "sqlstate", None) != "22003":  # numeric value out of range
            raise error
        return _out_of_range()

    @app.errorhandler(OverflowError)
    def overflow(_error: OverflowError) -> ResponseReturnValue:  # SQLite's driver: int too large to convert
        return _out_of_range()


def refuse_control_characters() -> ResponseReturnValue | None:
    """Control characters never reach a query (PostgreSQL refuses NUL in text: a 500 before)."""
    if any(isinstance(value, str) and has_controls(value) for value in (request.view_args or {}).values()):
        abort(404)
    if any(has_controls(key) or has_controls(value) for key, value in request.args.items(multi=True)):
        return _answer(400, "Bad request", "The address carries a control character; remove it.", {})
    editors_form = request.path.startswith("/editor/") and request.method == "POST"
    if editors_form and any(has_controls(value) for _, value in request.form.items(multi=True)):
        return _answer(422, "Cannot be used", "A field holds a control character; remove it and send again.", {})
    return None


def _busy() -> ResponseReturnValue:
    message = "The database is busy. Please try again in a few seconds."
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return _answer(503, "Busy", message, headers)


def _out_of_range() -> ResponseReturnValue:
    return _answer(400, "Bad request", "A number in the address is out of range.", {})


def _answer(status: int, heading: str, message: str, headers: dict[str, str]) -> ResponseReturnValue:
    if request.path.startswith("/api/") or request.is_json:
        return jsonify(errors=[{"field": None, "message": message}]), status, headers
    page = "<!doctype html><title>{{ heading }}</title><h1>{{ heading }}</h1><p>{{ message }}</p>"
    return render_template_string(page, heading=heading, message=message), status, headers
