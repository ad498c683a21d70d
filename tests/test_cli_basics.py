"""The command line's contract: init is repeatable, errors are one line with exit status 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect

from digest.db import make_engine
from tests.cli import digest, digest_json
from tests.feedserver import FeedServer


def test_init_creates_the_schema_and_is_safe_to_run_twice(write_config: Callable[..., Path], database_url: str) -> None:
    config = write_config()
    first = digest("init", config=config)
    assert "database ready at revision" in first.stdout
    second = digest("init", config=config)
    assert "database ready at revision" in second.stdout
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "sources",
        "items",
        "submissions",
        "editions",
        "edition_items",
        "subscribers",
        "deliveries",
        "editors",
        "alembic_version",
    } <= tables


def test_init_adds_the_sources_the_config_declares_once(write_config: Callable[..., Path]) -> None:
    config = write_config(sources=[{"name": "Local news", "url": "https://news.example.eu/feed", "kind": "news"}])
    digest("init", config=config)
    digest("init", config=config)
    sources = digest_json("sources", "list", config=config)
    assert [(s["name"], s["url"], s["kind"], s["enabled"]) for s in sources] == [
        ("Local news", "https://news.example.eu/feed", "news", True)
    ]


def test_init_generates_a_secret_key_when_none_is_configured(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {{url: '{database_url}'}}\n", encoding="utf-8")
    digest("init", config=config)
    secret = (tmp_path / "var" / "secret_key").read_text().strip()
    assert len(secret) >= 32
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0
    digest("init", config=config)
    assert (tmp_path / "var" / "secret_key").read_text().strip() == secret


def test_a_config_error_is_one_line_on_stderr_and_exit_status_1(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("mail: {smtp: {port: lots}}\n", encoding="utf-8")
    result = digest("queue", "list", config=config, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(config) in lines[0] and "mail.smtp.port" in lines[0]
    assert "Traceback" not in result.stderr


def test_commands_on_an_uninitialised_database_say_to_run_init(write_config: Callable[..., Path]) -> None:
    result = digest("queue", "list", config=write_config(), check=False)
    assert result.returncode == 1
    assert "run `digest init`" in result.stderr


def test_usage_errors_exit_with_status_2(write_config: Callable[..., Path]) -> None:
    config = write_config()
    digest("init", config=config)
    assert digest("queue", "list", "--status", "lost", config=config, check=False).returncode == 2
    assert digest("edition", "create", config=config, check=False).returncode == 2


def test_the_config_option_is_accepted_before_the_command_too(write_config: Callable[..., Path]) -> None:
    config = write_config()
    result = digest("--config", str(config), "init")
    assert "database ready" in result.stdout


def test_a_wrong_item_id_changes_nothing_and_says_which(write_config: Callable[..., Path]) -> None:
    config = write_config()
    digest("init", config=config)
    result = digest("queue", "approve", "999", config=config, check=False)
    assert result.returncode == 1
    assert "no item with id 999" in result.stderr


def test_collect_shows_each_source_and_the_warnings_of_a_feed_it_could_still_read(
    write_config: Callable[..., Path], feed_server: FeedServer
) -> None:
    config = write_config(
        sources=[
            {"name": "Shaky feed", "url": feed_server.url("/malformed.rss"), "kind": "news"},
            {"name": "Gone feed", "url": "http://127.0.0.1:9/feed.rss", "kind": "news"},
        ]
    )
    digest("init", config=config)
    result = digest("collect", config=config)
    assert "warning: Shaky feed:" in result.stdout and "not well-formed" in result.stdout
    assert "2 new items from 2 sources, 1 failed" in result.stdout


UNUSABLE_DATABASES = [
    ("postgresql+psycopg://reader:secret@127.0.0.1:1/digest", "cannot use the database"),
    ("postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database_here", "cannot use the database"),
    ("mysql://reader@127.0.0.1/digest", "database.url mysql://reader@127.0.0.1/digest"),
    ("not a database url", "database.url 'not a database url'"),
]


CASES = [
    *[(url, said, ("queue", "list")) for url, said in UNUSABLE_DATABASES],
    ("NOT_A_DATABASE_FILE", "file is not a database", ("queue", "list")),
    ("NOT_A_DATABASE_FILE", "file is not a database", ("init",)),
    (*UNUSABLE_DATABASES[0], ("init",)),
]


@pytest.mark.parametrize(("url", "said", "command"), CASES)
def test_a_database_that_cannot_be_used_is_one_line_not_a_traceback(
    tmp_path: Path, url: str, said: str, command: tuple[str, ...]
) -> None:
    if url == "NOT_A_DATABASE_FILE":
        garbage = tmp_path / "digest.db"
        garbage.write_text("this is not SQLite\n" * 100)
        url = f"sqlite:///{garbage}"
    config = tmp_path / "config.yaml"
    config.write_text("site: {name: T}\n", encoding="utf-8")
    result = digest(*command, config=config, env={"DIGEST_DATABASE_URL": url}, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digest: error: ") and said in lines[0], result.stderr
    assert "secret" not in result.stderr
