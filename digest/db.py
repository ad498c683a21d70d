"""Database engine, sessions and schema upgrades (Alembic)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import DigestError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic is imported inside the functions that use it: most commands only check the revision.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# `revision: str = "0011"` and `down_revision: str | None = "0010"` in a migration file
_REVISION_LINE = re.compile(r"""^(revision|down_revision)\b[^=\n]*=\s*["']([^"'\n]+)["']""", re.M)


class DatabaseUnusable(DigestError):
    """The configured database cannot be reached or is not one we can read."""


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for the URL; SQLite gets foreign keys, WAL and a busy timeout. A URL that names no
    database we can drive is a DatabaseUnusable, worded for the operator."""
    try:
        return _engine(url, **options)
    except (ArgumentError, NoSuchModuleError, ModuleNotFoundError) as error:
        raise DatabaseUnusable(
            f"database.url {_shown(url)}: {_first_line(error)} (supported: sqlite:///PATH, postgresql+psycopg://…)"
        ) from None


def unusable(url: str, error: Exception) -> DatabaseUnusable | None:
    """The one-line problem for an error that says the database itself is unreachable or unreadable
    (not for a bug in a query: those keep their traceback)."""
    if isinstance(error, OperationalError | InterfaceError) or type(error) is DatabaseError:
        cause = error.orig if isinstance(error, DatabaseError) and error.orig is not None else error
        return DatabaseUnusable(f"cannot use the database {_shown(url)}: {_first_line(cause)}")
    return None


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _engine(url: str, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# Tables the application builds for itself (the archive's SQLite full-text index) are not
# part of the models: migrations must neither create nor drop them.
UNMANAGED_TABLE_PREFIXES = ("archive_search",)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's filter: leave the unmanaged tables out of every comparison."""
    return not (type_ == "table" and name is not None and name.startswith(UNMANAGED_TABLE_PREFIXES))


def schema_filters(dialect: str) -> dict[str, Any]:
    """Alembic's options for comparing the models with a database of this dialect: the unmanaged tables are
    left out, and so are indexes the models build on another dialect only
    (digest.models.postgresql_expression_index)."""

    def include_object(item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ != "index" or reflected:
            return True
        if item.info.get("dialect", dialect) != dialect:
            return False
        # PostgreSQL gives an expression index back rewritten (casts, parentheses, a CASE over several lines),
        # which Alembic cannot match with the model's text: only its presence is compared. Whether the query
        # and the index agree is what tests/archive/test_archive_search_plan.py asks PostgreSQL's planner.
        return compare_to is None or not item.info.get("expression")

    return {"include_name": include_name, "include_object": include_object}


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    with sessions() as session, session.begin():
        yield session


_WRITERS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


@contextmanager
def write_transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """`transaction` for a short write that many requests make at once (a submission).

    On SQLite one writer at a time holds the database, and the others wait in its busy handler, which
    sleeps in growing steps up to 100 ms between tries: under 8 concurrent writers a 5 ms wait became
    100 ms and p95 seconds. Writers of one process queue on a lock instead, and the next goes as soon as
    the last one commits. (Other processes still meet the busy timeout.) PostgreSQL needs none of it."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, Engine) or engine.dialect.name != "sqlite":
        with transaction(sessions) as session:
            yield session
        return
    with _writer_lock(engine), transaction(sessions) as session:
        yield session


def _writer_lock(engine: Engine) -> threading.Lock:
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(engine, threading.Lock())


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; return (revision before, revision after)."""
    from alembic import command

    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """The revision alembic recorded (None: never initialised); read with one query, without importing alembic
    (a tenth of a second, at every start of every command)."""
    with engine.connect() as connection:
        if not engine.dialect.has_table(connection, "alembic_version"):
            return None
        revisions = sorted(connection.scalars(text("SELECT version_num FROM alembic_version")))
    return ",".join(revisions) or None  # several: branches, which are never the one head


def newest_revision() -> str | None:
    """The head of the migrations as alembic finds it (tests/test_migrations.py compares them), read from the
    files' ``revision`` and ``down_revision`` lines: the revision no other revises."""
    revises: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revises[found["revision"]] = found.get("down_revision")
    heads = set(revises) - set(revises.values())
    return heads.pop() if len(heads) == 1 else None
