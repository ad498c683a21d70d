"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from digest.db import current_revision, head_revision, include_name, upgrade
from digest.models import Base
from digest.runtime import Runtime


def test_the_migrated_schema_matches_the_models(runtime: Runtime) -> None:
    with runtime.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_tables_the_application_builds_itself_are_left_alone(runtime: Runtime) -> None:
    with runtime.engine.begin() as connection:
        connection.execute(text("CREATE TABLE archive_search_state (id INTEGER PRIMARY KEY)"))
        connection.execute(text("CREATE TABLE archive_search_extra (id INTEGER PRIMARY KEY)"))
    with runtime.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrading_an_up_to_date_database_changes_nothing(runtime: Runtime) -> None:
    head = head_revision(runtime.engine)
    assert current_revision(runtime.engine) == head
    assert upgrade(runtime.engine) == (head, head)
