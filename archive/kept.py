"""Archive responses built once and kept until what they show changes.

A sent edition's page, the index, the feeds and the calendars are the same bytes for every reader
until an edition is sent (or the code or templates that render them change). Each is kept under a
*generation*: a hash of the archive stamp (`digest.stamp`: one number in the database raised by
`mark_archive_changed` in the transaction that sends an edition) and a fingerprint of the package version,
the templates, the archive's code and the site settings. Every process reads the stamp on each
request, so a send by the worker, the scheduler or another gunicorn worker is seen at once by all.

Kept bytes live on disk under `<var_dir>/archive-pages/<generation>/` (shared by the processes of one
host, surviving restarts) with a bounded copy in each process's memory. Only real pages are kept
(misses and 404s are not), so what is kept is bounded by the archive itself.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from werkzeug.http import parse_accept_header

from archive.lru import GenerationLRU
from digest.stamp import STAMP_ID, read_archive_stamp

FOLDER_NAME = "archive-pages"
MEMORY_BYTES = 64 * 1024 * 1024  # per process; the disk copy is the shared one
GZIP_FROM = 1024  # bytes: smaller answers are sent as they are
MAX_ACCEPT_ENCODING = 500  # characters of a reader's Accept-Encoding looked at
_CODE = Path(__file__).resolve().parent  # the archive package: pages, feeds, calendars


class StampReader:
    """The stamp, read on every request over one connection of its own in autocommit (no pool checkout,
    no ORM: the read is most of what serving a kept page costs). Any trouble with that connection
    drops it and reads through the engine, whose errors the web app turns into a 503."""

    SQL = f"SELECT version FROM archive_stamp WHERE id = {STAMP_ID}"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    def read(self) -> int:
        with self._lock:
            try:
                cursor = self._connect().cursor()
                cursor.execute(self.SQL)
                row = cursor.fetchone()
                cursor.close()
                return int(row[0]) if row else 0
            except Exception:  # any driver's error: start again from the engine
                self._drop()
        return read_archive_stamp(self.engine)

    def _connect(self) -> Any:
        if self._connection is None or self._pid != os.getpid():  # a forked worker never shares a connection
            pooled = self.engine.raw_connection()
            driver = pooled.driver_connection
            pooled.detach()  # ours alone from now on: the pool neither lends nor closes it
            if self.engine.dialect.name == "sqlite":
                driver.isolation_level = None  # autocommit: every read sees the latest commit
            else:
                driver.autocommit = True
            self._connection, self._pid = driver, os.getpid()
        return self._connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):
                connection.close()


def fingerprint(template_folders: Iterable[Path], settings: object) -> str:
    """What else decides the bytes: the package version, the templates, the archive's code, the site settings."""
    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("cluster-digest").encode())
    except metadata.PackageNotFoundError:
        digest.update(b"unpackaged")
    digest.update(repr(settings).encode())
    for folder in (*template_folders, _CODE):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".html", ".txt", ".mjml", ".py", ".xml"):
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Kept:
    """One response as kept: its bytes (and their gzip, compressed once), and what the headers say."""

    body: bytes
    mimetype: str
    etag: str
    last_modified: datetime
    filename: str | None = None
    gzipped: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")

    def variant(self, gzipped: bool) -> tuple[bytes, str, str | None]:
        """The bytes to send, their ETag (each representation its own) and their Content-Encoding."""
        if gzipped and self.gzipped is not None:
            return self.gzipped, self.etag + "-gzip", "gzip"
        return self.body, self.etag, None

    def encoded(self) -> bytes:
        fields = {
            "mimetype": self.mimetype,
            "etag": self.etag,
            "last_modified": self.last_modified.isoformat(),
            "filename": self.filename,
            "plain": len(self.body),
        }
        return json.dumps(fields).encode() + b"\n" + self.body + (self.gzipped or b"")

    @classmethod
    def parse(cls, data: bytes) -> Kept:
        header, _, rest = data.partition(b"\n")
        fields = json.loads(header)
        plain = int(fields["plain"])
        body, gzipped = rest[:plain], rest[plain:] or None
        when = datetime.fromisoformat(fields["last_modified"])
        return cls(body, fields["mimetype"], fields["etag"], when, fields["filename"], gzipped)


def kept(body: str | bytes, mimetype: str, filename: str | None = None) -> Kept:
    """A freshly built response: its ETag is a hash of its bytes, its Last-Modified the current second;
    compressed once here when that pays (readers' browsers and feed readers ask for gzip)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    etag = hashlib.sha256(data).hexdigest()[:32]
    packed = gzip.compress(data, compresslevel=6, mtime=0) if len(data) >= GZIP_FROM else None
    worth = packed if packed is not None and len(packed) < 0.9 * len(data) else None
    return Kept(data, mimetype, etag, datetime.now(UTC).replace(microsecond=0), filename, worth)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (`gzip`, `x-gzip` or `*`, with a quality above 0)."""
    if not accept_encoding or ("gzip" not in accept_encoding and "*" not in accept_encoding):
        return False
    accepted = parse_accept_header(accept_encoding[:MAX_ACCEPT_ENCODING])
    return accepted.quality("gzip") > 0 or accepted.quality("x-gzip") > 0


Build = Callable[[], Kept | None]


class Shelf:
    """The kept responses of one web app: on disk (shared), with a bounded copy in memory."""

    def __init__(self, folder: Path, engine: Engine, fingerprint: str, memory_bytes: int = MEMORY_BYTES) -> None:
        self.folder = folder
        self.stamp = StampReader(engine)
        self.fingerprint = fingerprint
        self._memory: GenerationLRU[str, Kept] = GenerationLRU(memory_bytes, lambda found: found.size)

    def generation(self) -> str:
        stamp = self.stamp.read()
        return hashlib.sha256(f"{self.fingerprint}:{stamp}".encode()).hexdigest()[:24]

    def fetch(self, generation: str, name: str, build: Build) -> Kept | None:
        """The kept response called `name` in this generation; built (and kept) when missing.
        `build` returns None for what is not to be kept (a missing page): nothing is kept then."""
        found = self._memory.get(name, generation)
        if found is not None:
            return found
        path = self._path(generation, name)
        found = _read(path)
        if found is None:
            found = build()
            if found is None:
                return None
            self._store(path, found)
        self._memory.put(generation, name, found)
        return found

    def _path(self, generation: str, name: str) -> Path:
        return self.folder / generation / hashlib.sha256(name.encode()).hexdigest()[:32]

    def _store(self, path: Path, found: Kept) -> None:
        """Write atomically (a reader in another process sees the whole file or none); a generation made
        here clears out the older ones. Failing to write only means building again next time."""
        try:
            if not path.parent.is_dir():
                path.parent.mkdir(parents=True, exist_ok=True)
                _remove_others(path.parent)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".building-")
            with os.fdopen(handle, "wb") as file:
                file.write(found.encoded())
            os.replace(temporary, path)
        except OSError:
            pass


def _read(path: Path) -> Kept | None:
    try:
        return Kept.parse(path.read_bytes())
    except (OSError, ValueError, KeyError):
        return None


def _remove_others(current: Path) -> None:
    for other in current.parent.iterdir():
        if other != current and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
