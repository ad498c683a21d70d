"""A database nobody else uses, for a test or a benchmark: a SQLite file in a folder, or a schema of its
own in a PostgreSQL database, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text


@contextmanager
def scratch_database(folder: Path, postgres_url: str | None, name: str) -> Iterator[str]:
    """`sqlite:///<folder>/<name>.db` when `postgres_url` is empty; else that database with a new schema
    `<name>_<random>` first on its search path."""
    if not postgres_url:
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    schema = f"{name}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
