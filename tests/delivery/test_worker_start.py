"""What a delivery worker loads: `digest worker --drain`, run as users run it, sends an edition without
importing the renderer (Jinja2, MJML, premailer, lxml) or alembic, whose imports were most of its start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from digest.runtime import Runtime
from tests.delivery_helpers import queue_edition

# `digest worker --drain` in this process (so its modules can be listed afterwards), as `python -m digest` runs it.
WORKER = """
import json, runpy, sys
sys.argv = ["digest", "worker", "--drain", "--config", sys.argv[1]]
try:
    runpy.run_module("digest", run_name="__main__", alter_sys=True)
except SystemExit as end:
    assert not end.code, end.code
print(json.dumps(sorted(sys.modules)))
"""
HEAVY = ("alembic", "premailer", "mjml", "jinja2", "lxml", "cssutils", "markdown_it", "nh3", "digest.rendering.render")


def worker_modules(config_path: Path) -> tuple[str, set[str]]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    result = subprocess.run(
        [sys.executable, "-c", WORKER, str(config_path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=True,
    )
    output, _, modules = result.stdout.rstrip().rpartition("\n")
    return output, set(json.loads(modules))


def test_a_worker_sends_without_importing_the_renderer_or_alembic(runtime: Runtime) -> None:
    queue_edition(runtime, 3)
    output, modules = worker_modules(runtime.config.path)
    assert "worker: 3 sent" in output
    assert len(list(runtime.config.outbox_dir.glob("*.eml"))) == 3
    assert "digest.delivery.message" in modules  # it did build messages
    assert [name for name in HEAVY if name in modules] == []


def test_a_worker_refuses_a_database_older_than_its_code(runtime: Runtime) -> None:
    with runtime.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0003'")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "digest", "worker", "--drain", "--config", str(runtime.config.path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "digest: error: the database schema is older than this version: run `digest init` to upgrade it"
    )
