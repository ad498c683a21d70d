"""Kept archive responses answered again without Flask (WSGI middleware in front of the app).

When the app serves a kept response in full (the view marks it `REPLAYABLE` with its generation), the
status line and headers it sent — security headers and all — are recorded under the request's path,
query and whether it took gzip. The next such request is answered from that record, after one
check: the archive's generation (the database stamp, `archive.kept`) is still the one recorded. So
the bytes and headers are exactly what the app would send, and a send seen by any process makes
every record stale at once. Conditional requests get their 304 here as in the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.http import is_resource_modified

from archive.kept import Shelf, accepts_gzip
from archive.lru import GenerationLRU

REPLAYABLE = "archive.replayable"  # environ key: the Replayable of a full kept answer
MAX_RECORDS = 4096
MAX_BYTES = 128 * 1024 * 1024
# What a 304 leaves out (RFC 9110 15.4.5): the headers describing a body it does not carry.
_BODY_HEADERS = {"content-length", "content-type", "content-disposition", "content-encoding", "content-range"}

Key = tuple[str, str, bool]  # path, query string, gzip taken
Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Replayable:
    """What the view sent: the generation it was kept under, the bytes (plain or gzipped) and their validators."""

    generation: str
    body: bytes
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class Record:
    answer: Replayable
    status: str
    headers: list[tuple[str, str]]


class Replay:
    def __init__(self, app: Wsgi, shelf: Shelf) -> None:
        self.app = app
        self.shelf = shelf
        # one generation at a time: a record of a newer one makes the older records stale
        self._records: GenerationLRU[Key, Record] = GenerationLRU(MAX_BYTES, _size, MAX_RECORDS)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        gzipped = accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING"))
        key = (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), gzipped)
        record = self._records.get(key)  # checked against the database's generation only when there is one
        if record is not None and record.answer.generation == self._generation_or_none():
            return _answer(record, environ, start_response)
        return self._through(key, environ, start_response)

    def _generation_or_none(self) -> str | None:
        """None when the database cannot say: the app answers then (a busy database is its 503)."""
        try:
            return self.shelf.generation()
        except Exception:  # the app's own error handling decides what the reader sees
            return None

    def _through(self, key: Key, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """The app answers; a full kept answer is recorded on its way out."""
        sent: list[Any] = []

        def recording_start_response(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            sent[:] = [status, list(headers)]
            return start_response(status, headers, *rest)

        body = self.app(environ, recording_start_response)
        marked = environ.get(REPLAYABLE)
        if marked is not None and sent and sent[0].startswith("200 "):
            headers = sent[1]
            if not any(name.lower() == "set-cookie" for name, _ in headers):  # nobody's session is replayed
                self._records.put(marked.generation, key, Record(marked, sent[0], headers))
        return body


def _size(record: Record) -> int:
    return len(record.answer.body)


def _answer(record: Record, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    answer = record.answer
    if not is_resource_modified(environ, etag=answer.etag, last_modified=answer.last_modified):
        headers = [(name, value) for name, value in record.headers if name.lower() not in _BODY_HEADERS]
        start_response("304 NOT MODIFIED", headers)
        return []
    start_response(record.status, record.headers)
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [answer.body]
