"""The one error shape of every JSON answer: ``{"errors": [{"field": name or null, "message": text}]}``.

Every problem at once, each naming the field it is about (null: the request as a whole). The status
says what kind of problem: 422 the fields are wrong, 400 the body is not a JSON object, 401 log in
again, 409 the change conflicts with the data, 413 too large, 429 too many, 503 busy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import Response, jsonify

FieldError = dict[str, str | None]


def problem(field: str | None, message: str) -> FieldError:
    """One error: what is wrong with `field` (None when it is about the whole request)."""
    return {"field": field, "message": message}


def errors_response(
    errors: Iterable[FieldError], status: int = 422, headers: Mapping[str, str] | None = None
) -> Response:
    """The JSON answer carrying these errors, with this status (422: validation) and headers."""
    response = jsonify(errors=list(errors))
    response.status_code = status
    response.headers.update(dict(headers or {}))
    return response


def error_response(message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """One problem about the request as a whole."""
    return errors_response([problem(None, message)], status, headers)
