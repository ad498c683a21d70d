"""Many submitters at once against the real server (`digest serve`, waitress, its own process) while the
worker (`digest worker`, another process) sends their confirmations from the same database: every
submission is stored, none meets "database is locked", and each submitter gets one confirmation."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import event, select

from digest.config import load_config
from digest.db import make_engine, transaction
from digest.models import Submission
from digest.runtime import Runtime
from digest.submissions.notices import tell_submitters
from digest.submissions.privacy import anonymise_submissions
from tests.cli import DIGEST, digest
from tests.smtpserver import free_port
from tests.submissions.helpers import running_site, valid
from tests.web.test_serve import start, wait_until_healthy

CLIENTS, EACH = 8, 6


def post_many(url: str, client: int) -> list[int]:
    with requests.Session() as session:  # one keep-alive connection per client, as a program would
        fields = [
            valid("news", title=f"Story {client}-{n} from a cluster", url=f"https://cluster.example.eu/{client}/{n}",
                  contact_email=f"person{client}.{n}@cluster.example.eu")
            for n in range(EACH)
        ]  # fmt: skip
        return [session.post(f"{url}api/submissions", json=one, timeout=60).status_code for one in fields]


def test_eight_clients_at_once_are_all_stored_and_confirmed_once(write_config: Callable[..., Path]) -> None:
    config = write_config(submissions={"rate_limit_per_hour": 1000}, web={"threads": CLIENTS})
    digest("init", config=config)
    server, url = start(["serve", "--port", str(free_port())], config)
    worker = subprocess.Popen([*DIGEST, "worker", "--config", str(config)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_until_healthy(url)
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(post_many, [url] * CLIENTS, range(CLIENTS)))
        statuses = [status for client in answers for status in client]
    finally:
        for process in (server, worker):
            process.send_signal(signal.SIGTERM)
        logs = [process.communicate(timeout=30)[0] for process in (server, worker)]
    digest("worker", "--drain", config=config)  # whatever the running worker had not reached yet

    assert statuses == [201] * CLIENTS * EACH
    assert not any("database is locked" in log or "Traceback" in log for log in logs), logs
    settings = load_config(config, environ={})
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        told = connection.execute(select(Submission.notified_status)).scalars().all()
    engine.dispose()
    assert told == ["pending"] * CLIENTS * EACH
    mailed = sorted(path.name.split("-")[0] for path in settings.outbox_dir.glob("*.eml"))
    assert len(mailed) == CLIENTS * EACH and len(set(mailed)) == CLIENTS * EACH  # one each


def test_sqlite_connections_write_ahead_and_wait_for_the_lock(write_config: Callable[..., Path]) -> None:
    """Readers never block the writer (WAL), and a writer meeting another process's lock waits for it
    (busy timeout) instead of failing at once."""
    settings = load_config(write_config(), environ={})
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's settings")
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    engine.dispose()


def test_two_passes_reading_the_same_due_confirmation_send_it_once(runtime: Runtime) -> None:
    """The worker's pass and an editor's pass at once: the second pass runs (and sends) right after the
    first has read the due confirmation; the first then finds it told and sends nothing."""
    with running_site(runtime) as site:
        site.api(valid("news"))
    competitor: list[int] = []

    def competing_pass(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().startswith("SELECT submissions.") and not competitor:
            competitor.append(-1)  # its own reads do not start a third pass
            competitor[0] = tell_submitters(runtime.config, runtime.sessions, runtime.secret_key)

    event.listen(runtime.engine, "after_cursor_execute", competing_pass)
    try:
        first = tell_submitters(runtime.config, runtime.sessions, runtime.secret_key)
    finally:
        event.remove(runtime.engine, "after_cursor_execute", competing_pass)

    assert first + competitor[0] == 1
    assert len(list(runtime.config.outbox_dir.glob("*.eml"))) == 1


def test_a_forgotten_submitters_due_confirmation_is_never_sent(runtime: Runtime) -> None:
    with running_site(runtime) as site:
        site.api(valid("news", contact_email="gone@cluster.example.eu"))
    with transaction(runtime.sessions) as session:
        assert anonymise_submissions(session, "gone@cluster.example.eu", "forgotten@invalid", "Forgotten") == 1

    assert tell_submitters(runtime.config, runtime.sessions, runtime.secret_key) == 0
    assert list(runtime.config.outbox_dir.glob("*.eml")) == []


def test_the_workers_frequent_look_for_due_confirmations_reads_only_them(runtime: Runtime) -> None:
    """Every 2 seconds the worker looks for due confirmations: through the partial index of the rows
    still unconfirmed, not a scan of every submission ever made."""
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plans")
    statements: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if "FROM submissions" in statement:
            statements.append((statement, parameters))

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        tell_submitters(runtime.config, runtime.sessions, runtime.secret_key, outcomes=False)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)

    [(statement, parameters)] = statements
    with runtime.engine.connect() as connection:
        plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    assert "SCAN submissions USING INDEX ix_submissions_unconfirmed" in plan
