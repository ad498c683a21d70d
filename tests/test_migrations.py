"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and a contributor's
`alembic` command at the project root sees the database the application uses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Connection, Engine, MetaData, Table, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.config import Config
from digest.db import (
    alembic_config,
    current_revision,
    make_engine,
    newest_revision,
    schema_filters,
    upgrade,
)
from digest.models import (
    Base,
    Delivery,
    DeliveryReport,
    Edition,
    EditionItem,
    EditionSection,
    Editor,
    Item,
    Source,
    Submission,
    Subscriber,
)
from digest.runtime import Runtime
from tests.cli import digest
from tests.conftest import POSTGRES_URL
from tests.factories import make_item, make_subscribers

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC = [sys.executable, "-m", "alembic"]

# Every column with a list of allowed values (the *_STATUSES, *_KINDS, … of digest/models.py).
CONSTRAINED = [
    ("sources", "kind"),
    ("items", "kind"),
    ("items", "status"),
    ("editions", "type"),
    ("editions", "status"),
    ("subscribers", "status"),
    ("deliveries", "status"),
    ("deliveries", "feedback"),
    ("delivery_reports", "kind"),
    ("editors", "role"),
    ("edition_sections", "layout"),
]


def alembic(*args: str, cwd: Path = PROJECT_ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """The real `alembic` command, with only the DIGEST_* variables given here."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    return subprocess.run(
        [*ALEMBIC, *args], cwd=cwd, env=environment | env, capture_output=True, text=True, timeout=300
    )


def check_constraints(engine: Engine) -> dict[str, set[str]]:
    inspector = inspect(engine)
    found = {table: inspector.get_check_constraints(table) for table in inspector.get_table_names()}
    return {table: {check["name"] for check in checks} for table, checks in found.items() if checks}


def model_check_constraints() -> dict[str, set[str]]:
    expected: dict[str, set[str]] = {}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                expected.setdefault(table.name, set()).add(str(constraint.name))
    return expected


@pytest.fixture
def engine(config: Config) -> Iterator[Engine]:
    """An engine on the test database, with no schema yet."""
    engine = make_engine(config.database_url)
    yield engine
    engine.dispose()


def comparing(connection: Connection) -> MigrationContext:
    """Alembic's comparison as `alembic check` makes it (digest.db.schema_filters)."""
    return MigrationContext.configure(connection, opts=schema_filters(connection.dialect.name))


def test_the_migrated_schema_matches_the_models(runtime: Runtime) -> None:
    with runtime.engine.connect() as connection:
        differences = compare_metadata(comparing(connection), Base.metadata)
    assert differences == []


def test_the_search_indexes_exist_on_postgresql_alone_and_a_missing_one_is_seen(runtime: Runtime) -> None:
    names = {index["name"] for table in ("items", "editions") for index in inspect(runtime.engine).get_indexes(table)}
    if runtime.engine.dialect.name != "postgresql":
        assert not names & {"ix_items_search", "ix_editions_search"}  # SQLite searches its FTS5 table
        return
    assert {"ix_items_search", "ix_editions_search"} <= names
    with runtime.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_items_search"))
    with runtime.engine.connect() as connection:
        differences = compare_metadata(comparing(connection), Base.metadata)
    assert [(kind, index.name) for kind, index in differences] == [("add_index", "ix_items_search")]


def test_the_migrated_schema_has_the_models_check_constraints(runtime: Runtime) -> None:
    # Alembic's comparison does not look at CHECK constraints: compare them by name here.
    assert check_constraints(runtime.engine) == model_check_constraints()
    assert model_check_constraints() == {
        table: {f"ck_{table}_{column}" for t, column in CONSTRAINED if t == table} for table, _ in CONSTRAINED
    }


def test_tables_the_application_builds_itself_are_left_alone(runtime: Runtime) -> None:
    with runtime.engine.begin() as connection:
        connection.execute(text("CREATE TABLE archive_search_state (id INTEGER PRIMARY KEY)"))
        connection.execute(text("CREATE TABLE archive_search_extra (id INTEGER PRIMARY KEY)"))
    with runtime.engine.connect() as connection:
        assert compare_metadata(comparing(connection), Base.metadata) == []


def head_revision(engine: Engine) -> str | None:
    """The head as alembic itself finds it: what digest.db.newest_revision must agree with."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_upgrading_an_up_to_date_database_changes_nothing(runtime: Runtime) -> None:
    head = head_revision(runtime.engine)
    assert current_revision(runtime.engine) == head
    assert upgrade(runtime.engine) == (head, head)


def test_the_revision_check_without_alembic_agrees_with_alembic(engine: Engine) -> None:
    """`digest` commands check the schema without importing alembic: the same answers as alembic's."""
    assert current_revision(engine) is None  # nothing yet
    upgrade(engine)
    assert newest_revision() == head_revision(engine) == current_revision(engine)
    with engine.connect() as connection:
        assert current_revision(engine) == MigrationContext.configure(connection).get_current_revision()
    command.downgrade(alembic_config(engine), "0003")
    assert current_revision(engine) == "0003" != newest_revision()


def test_alembic_check_passes_on_a_database_made_by_digest_init(write_config: Callable[..., Path]) -> None:
    config_path = write_config()
    assert alembic("check", DIGEST_CONFIG=str(config_path)).returncode != 0  # no schema yet: not up to date
    digest("init", config=config_path)
    result = alembic("check", DIGEST_CONFIG=str(config_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No new upgrade operations detected" in result.stdout


def test_alembic_check_reads_DIGEST_DATABASE_URL(write_config: Callable[..., Path], database_url: str) -> None:
    digest("init", config=write_config())
    result = alembic("check", DIGEST_DATABASE_URL=database_url)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(POSTGRES_URL is not None, reason="a relative path is a SQLite matter")
def test_alembic_resolves_a_relative_sqlite_path_against_the_config_file(write_config: Callable[..., Path]) -> None:
    config_path = write_config(database={"url": "sqlite:///var/relative.db"})
    digest("init", config=config_path)
    assert (config_path.parent / "var" / "relative.db").is_file()
    result = alembic("check", DIGEST_CONFIG=str(config_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alembic_without_a_config_file_or_url_says_what_is_missing(tmp_path: Path) -> None:
    result = alembic("check", DIGEST_CONFIG=str(tmp_path / "missing.yaml"))
    assert result.returncode != 0
    assert "configuration file not found" in result.stderr
    assert "DIGEST_DATABASE_URL" in result.stderr


def test_a_new_migration_is_numbered_after_the_newest_and_empty_when_nothing_changed(
    write_config: Callable[..., Path], database_url: str, tmp_path: Path
) -> None:
    # A copy of alembic.ini and the migrations, so the new file does not land in the project.
    project = tmp_path / "project"
    shutil.copytree(
        PROJECT_ROOT / "digest" / "migrations",
        project / "digest" / "migrations",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(PROJECT_ROOT / "alembic.ini", project / "alembic.ini")
    digest("init", config=write_config())
    result = alembic("revision", "--autogenerate", "-m", "nothing yet", cwd=project, DIGEST_DATABASE_URL=database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    head = ScriptDirectory(str(PROJECT_ROOT / "digest" / "migrations")).get_current_head() or ""
    newest = sorted((project / "digest" / "migrations" / "versions").glob("*.py"))[-1]
    assert newest.name == f"{int(head) + 1:04d}_nothing_yet.py"
    source = newest.read_text(encoding="utf-8")
    assert f"Revises: {head}" in source
    assert "op." not in source  # the models and the database agree: nothing to do
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", str(newest)], capture_output=True)
    assert lint.returncode == 0, lint.stdout


def test_the_database_refuses_an_item_with_an_unknown_status(runtime: Runtime) -> None:
    with pytest.raises(IntegrityError), runtime.sessions() as session, session.begin():
        make_item(session, "Bad status", status="archived")


def one_row_in_each_constrained_table(session: Session) -> None:
    subscriber = make_subscribers(session, 1)[0]
    session.add(Source(name="Feed", url="https://example.org/feed"))
    # Editors and editions through the tables as they stand, so a column added after 0001 does not break
    # fill_at_revision_0001.
    editors = Table("editors", MetaData(), autoload_with=session.connection())
    row = {"email": "editor@example.org", "password_hash": "x", "role": "editor", "created_at": datetime(2026, 1, 1)}
    session.execute(insert(editors).values(row))
    editions = Table("editions", MetaData(), autoload_with=session.connection())
    edition = {"type": "digest", "title": "Weekly", "subject": "Weekly", "preheader": "", "intro": "", "slug": "weekly",
               "status": "draft", "recipient_count": 0, "held": False, "warnings": [], "failure_streak": 0,
               "created_at": datetime(2026, 1, 1)}  # fmt: skip
    edition_id = session.execute(insert(editions).values(edition)).inserted_primary_key[0]
    session.flush()
    deliveries = Table("deliveries", MetaData(), autoload_with=session.connection())  # likewise
    delivery = {"edition_id": edition_id, "subscriber_id": subscriber.id, "status": "queued", "attempts": 0}
    session.execute(insert(deliveries).values(delivery))
    items = Table("items", MetaData(), autoload_with=session.connection())  # as the editor: columns come later
    now = datetime(2026, 1, 1)
    row = {"kind": "news", "status": "approved", "title": "Good status", "summary": "", "topics": [], "origin": "feed",
           "collected_at": now, "updated_at": now, "dedup_key": "k", "content_hash": "h",
           "featured": False}  # fmt: skip
    session.execute(insert(items).values(row))


@pytest.mark.parametrize(("table", "column"), CONSTRAINED)
def test_the_database_refuses_a_value_outside_the_list(runtime: Runtime, table: str, column: str) -> None:
    with runtime.sessions() as session, session.begin():
        one_row_in_each_constrained_table(session)
        session.add(DeliveryReport(report_key="k", origin="webhook", kind="hard"))  # a table newer than 0001
        if table == "edition_sections":  # (a table of 0005, so not in the rows written at 0001)
            edition = session.scalars(select(Edition)).one()
            session.add(EditionSection(edition=edition, key="news", title="News", position=0, layout="cards"))
    statement = update(Base.metadata.tables[table]).values({column: "bogus"})
    with pytest.raises(IntegrityError), runtime.engine.begin() as connection:
        connection.execute(statement)


def fill_at_revision_0001(engine: Engine) -> None:
    """Rows in every table that others point at, written while the schema is at 0001."""
    with Session(engine) as session, session.begin():
        one_row_in_each_constrained_table(session)
        item_id = session.scalars(select(Item.id)).one()
        edition_id = session.scalars(select(Edition.id)).one()
        session.add(EditionItem(edition_id=edition_id, item_id=item_id, section="News", position=1))
        session.add(
            Submission(
                organisation="Cluster",
                contact_name="Ann",
                contact_email="ann@example.org",
                kind="news",
                item_id=item_id,
            )
        )


def row_counts(engine: Engine) -> dict[str, int]:
    models = (Source, Item, Edition, EditionItem, Subscriber, Delivery, Editor, Submission)
    with Session(engine) as session:
        counts = {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0 for model in models}
        counts["submissions linked"] = (
            session.scalar(select(func.count()).select_from(Submission).where(Submission.item_id.is_not(None))) or 0
        )
    return counts


def test_upgrading_from_0001_keeps_every_row_and_link(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "0001")
    fill_at_revision_0001(engine)
    before = row_counts(engine)
    upgrade(engine)
    assert row_counts(engine) == before
    assert all(before.values())
    with Session(engine) as session:  # 0010 gave every existing item its indexed title keys
        assert session.execute(select(Item.title_key, Item.title_head, Item.title_tail)).one() == (
            "good status", None, None
        )


def test_0006_flags_the_all_day_events_and_whole_day_deadlines_stored_before_it(engine: Engine) -> None:
    """Before 0006 an all-day event was stored from its first midnight to its last day's last second (iCalendar)
    or to the midnight after (older rows), and a date-only deadline at its day's last second, all in `timezone`."""
    command.upgrade(alembic_config(engine), "0003")
    items = Table("items", MetaData(), autoload_with=engine)
    rows = {
        "ical all-day": ("event", datetime(2027, 1, 6, 23), datetime(2027, 1, 8, 22, 59, 59), None, "Europe/Brussels"),
        "midnight to midnight": ("event", datetime(2027, 1, 6, 23), datetime(2027, 1, 7, 23), None, "Europe/Brussels"),
        "timed": ("event", datetime(2027, 1, 7, 8), datetime(2027, 1, 7, 16), None, "Europe/Brussels"),
        "no zone": ("event", datetime(2027, 1, 7), None, None, None),
        "whole-day deadline": ("call", None, None, datetime(2026, 12, 22, 23, 59, 59), "Europe/Lisbon"),
        "23:59 Lisbon": ("call", None, None, datetime(2026, 12, 22, 23, 59), "Europe/Lisbon"),
    }
    with engine.begin() as connection:
        for title, (kind, starts, ends, deadline, zone) in rows.items():
            connection.execute(insert(items).values(
                kind=kind, status="pending", title=title, summary="", topics=[], origin="feed", dedup_key=title,
                content_hash=title, featured=False, collected_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1),
                starts_at=starts, ends_at=ends, deadline=deadline, timezone=zone,
            ))  # fmt: skip
    upgrade(engine)
    with Session(engine) as session:
        flagged = {item.title for item in session.scalars(select(Item).where(Item.all_day))}
    assert flagged == {"ical all-day", "midnight to midnight", "whole-day deadline"}


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    config = alembic_config(engine)
    upgrade(engine)
    fill_at_revision_0001(engine)
    before = row_counts(engine)

    command.downgrade(config, "0001")
    assert current_revision(engine) == "0001"
    assert "apscheduler_jobs" in inspect(engine).get_table_names()
    assert check_constraints(engine) == {}
    assert row_counts(engine) == before

    upgrade(engine)
    assert "apscheduler_jobs" not in inspect(engine).get_table_names()
    assert check_constraints(engine) == model_check_constraints()
    assert row_counts(engine) == before

    command.downgrade(config, "base")
    assert [name for name in inspect(engine).get_table_names() if name != "alembic_version"] == []
    upgrade(engine)
    with engine.connect() as connection:
        assert compare_metadata(comparing(connection), Base.metadata) == []
