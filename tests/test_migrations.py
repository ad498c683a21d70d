"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from digest.db import current_revision, head_revision, upgrade
from digest.models import Base
from digest.runtime import Runtime


def test_the_migrated_schema_matches_the_models(runtime: Runtime) -> None:
    with runtime.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_changes_nothing(runtime: Runtime) -> None:
    head = head_revision(runtime.engine)
    assert current_revision(runtime.engine) == head
    assert upgrade(runtime.engine) == (head, head)
