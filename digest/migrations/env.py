"""Alembic environment, for two callers:

- `digest init` (digest.db.upgrade) hands over its engine in the config's attributes;
- a contributor's `alembic revision --autogenerate` / `alembic check` at the project root (alembic.ini there)
  gets the database of DIGEST_DATABASE_URL, else of the config file (DIGEST_CONFIG or ./config.yaml).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine

from digest.config import ConfigError, load_config
from digest.db import make_engine, schema_filters
from digest.models import Base


def configured_database_url() -> str:
    """The database the application would use: the config file's (DIGEST_DATABASE_URL overrides it there)."""
    try:
        return load_config().database_url
    except ConfigError as error:
        url = os.environ.get("DIGEST_DATABASE_URL")
        if url:
            return url
        raise CommandError(f"{error} (or set DIGEST_DATABASE_URL)") from None


def number_new_revisions(_context: Any, _revision: Any, directives: Iterable[Any]) -> None:
    """`alembic revision` numbers a new migration after the newest (0003, 0004, …) unless --rev-id is given."""
    options = context.config.cmd_opts
    if options is not None and getattr(options, "rev_id", None):
        return
    head = ScriptDirectory.from_config(context.config).get_current_head()
    if head is not None and re.fullmatch(r"\d{4}", head):
        for script in directives:
            script.rev_id = f"{int(head) + 1:04d}"


def quiet_about_other_dialects_indexes(dialect: str) -> None:
    """Alembic warns that it cannot compare an expression index on SQLite before our filter leaves out
    those built on PostgreSQL alone: no need to warn about an index that does not belong here."""
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            if index.info.get("dialect", dialect) != dialect:
                warnings.filterwarnings("ignore", message=f".*expression-based index {index.name!r}")


def run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    quiet_about_other_dialects_indexes(connection.dialect.name)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        compare_type=True,
        **schema_filters(connection.dialect.name),
        process_revision_directives=number_new_revisions,
    )
    if not sqlite:
        with connection.begin(), context.begin_transaction():
            context.run_migrations()
        return
    # Batch mode rebuilds a SQLite table by copy, drop and rename: with foreign keys on, dropping the old
    # table would cascade to (or be refused by) the rows that point at it. The pragma is a no-op inside
    # a transaction, so it comes first, and it is restored before the connection goes back to the pool.
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        with connection.begin(), context.begin_transaction():
            context.run_migrations()
            if connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise CommandError("the migration left rows whose foreign keys point at no row")
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def run() -> None:
    engine: Engine | None = context.config.attributes.get("engine")
    if engine is not None:
        with engine.connect() as connection:
            run_migrations(connection)
        return
    if context.config.config_file_name is not None:
        fileConfig(context.config.config_file_name)
    engine = make_engine(configured_database_url())
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


run()
