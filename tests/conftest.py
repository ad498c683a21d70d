"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
DIGEST_TEST_DATABASE_URL is set) and a config file pointing at it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from digest.config import Config, load_config
from digest.db import upgrade
from digest.runtime import Runtime
from tests.databases import scratch_database
from tests.editor_helpers import ADMIN, Desk, desk, make_app
from tests.feedserver import FeedServer, running_server
from tests.smtpserver import RecordingHandler, smtp_server

pytest_plugins = ["tests.browser"]  # the browser tests' `browser` fixture

POSTGRES_URL = os.environ.get("DIGEST_TEST_DATABASE_URL")
TEST_SECRET = "test-secret-key-not-for-production-0123456789"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database nobody else uses: a new SQLite file, or a new PostgreSQL schema."""
    with scratch_database(tmp_path, POSTGRES_URL, "digest") as url:
        yield url


@pytest.fixture
def write_config(tmp_path: Path, database_url: str) -> Callable[..., Path]:
    """Write a config.yaml into tmp_path; keyword sections are merged over the test defaults."""

    def write(**sections: Any) -> Path:
        settings: dict[str, Any] = {
            "site": {"name": "Test Cluster Platform", "base_url": "http://digest.test"},
            "database": {"url": database_url},
            "secret_key": TEST_SECRET,
            "mail": {"from": "Cluster Digest <digest@digest.test>", "transport": "outbox"},
            "sources": [],
            # The test feed servers listen on 127.0.0.1; the SSRF tests turn this off again.
            "collect": {"allow_private_addresses": True},
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def config(write_config: Callable[..., Path]) -> Config:
    return load_config(write_config(), environ={})


@pytest.fixture
def runtime(config: Config) -> Iterator[Runtime]:
    """A runtime on a migrated, empty database."""
    runtime = Runtime(config)
    upgrade(runtime.engine)
    yield runtime
    runtime.close()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    """The web app on the test runtime, with the editors' accounts of tests.editor_helpers."""
    return make_app(runtime)


@pytest.fixture
def admin(app: Flask) -> Desk:
    """The admin, logged in to the editors' app."""
    return desk(app, ADMIN)


@pytest.fixture
def smtp() -> Iterator[tuple[RecordingHandler, int]]:
    """A real SMTP server on 127.0.0.1 that records what it receives: (handler, port)."""
    with smtp_server() as server:
        yield server


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A real HTTP server whose routes the test sets (tests.feedserver)."""
    with running_server() as server:
        yield server
