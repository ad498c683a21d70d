"""The app factory under gunicorn with several worker processes, as the README's production setup
runs it: every worker answers, and an edition sent by another process (here: the test's) shows in
every worker's next answers — the kept archive pages go stale across processes, not per process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from digest.config import load_config
from digest.runtime import Runtime
from tests.archive.helpers import at, publish
from tests.cli import digest

WORKERS = 3
GUNICORN = shutil.which("gunicorn", path=str(Path(sys.executable).parent))


@pytest.fixture
def served(write_config: Callable[..., Path], tmp_path: Path) -> Iterator[tuple[str, Path, Runtime]]:
    """gunicorn on a port of its choosing; its access log names the worker (pid) of every answer."""
    assert GUNICORN is not None, "gunicorn is a test dependency (pyproject [test])"
    prefix = f"gunicorn-test-{os.getpid()}-{tmp_path.name}"
    config = write_config(limits={"storage_url": "redis://127.0.0.1:6379", "key_prefix": prefix})
    digest("init", config=config)
    log = tmp_path / "access.log"
    # --timeout: a worker booting on a machine as busy as CI's must not be taken for a hung one
    command = [GUNICORN, "--workers", str(WORKERS), "--timeout", "300", "--bind", "127.0.0.1:0",
               "--access-logfile", str(log),
               "--access-logformat", "%(p)s %(U)s %(s)s", "digest.web.wsgi:application()"]  # fmt: skip
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**environment, "DIGEST_CONFIG": str(config)}
    )
    address: list[str] = []
    ready = threading.Event()

    def read() -> None:  # gunicorn says where it listens, then each worker's start
        assert process.stderr is not None
        for line in process.stderr:
            match = re.search(r"Listening at: (http://\S+)", line)
            if match:
                address.append(match.group(1))
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    runtime = Runtime(load_config(config, environ={}))
    try:
        assert ready.wait(timeout=60), "gunicorn never said where it listens"
        yield address[0], log, runtime
    finally:
        runtime.close()
        process.terminate()
        process.wait(timeout=30)


def answers_from_every_worker(base: str, path: str, log: Path) -> list[str]:
    """Concurrent GETs of `path` until each worker has answered at least one of them (bounded); the bodies."""
    since = len(log.read_text().splitlines()) if log.exists() else 0
    bodies: list[str] = []
    with ThreadPoolExecutor(max_workers=WORKERS * 2) as pool:
        for _ in range(60):
            batch = list(pool.map(lambda _: requests.get(base + path, timeout=300), range(WORKERS * 2)))
            assert all(answer.status_code == 200 for answer in batch)
            bodies += [answer.text for answer in batch]
            if len(workers_seen(log, path, since)) == WORKERS:
                return bodies
    raise AssertionError(f"not every worker answered {path}: {workers_seen(log, path, since)}")


def workers_seen(log: Path, path: str, since: int) -> set[str]:
    """The pids that answered `path` (gunicorn logs each answer just after sending it)."""
    lines = log.read_text().splitlines()[since:] if log.exists() else []
    return {line.split()[0] for line in lines if line.split()[1:2] == [path]}


def test_every_gunicorn_worker_shows_an_edition_sent_by_another_process(
    served: tuple[str, Path, Runtime],
) -> None:
    base, log, runtime = served
    publish(runtime, [("Hydrogen valley opens", "news")], when=at(2026, 10, 2), title="October issue")
    for path in ("/archive/", "/archive/feed.xml"):
        assert all("October issue" in body for body in answers_from_every_worker(base, path, log))

    publish(runtime, [("Photonics summit Lisbon", "news")], when=at(2026, 11, 6), title="November issue")

    for path in ("/archive/", "/archive/feed.xml"):
        bodies = answers_from_every_worker(base, path, log)
        assert all("November issue" in body for body in bodies), path
