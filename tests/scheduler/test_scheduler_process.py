"""`digest scheduler` as a real process, on short test schedules (six-field cron, seconds first), with
its own feed server, a real SMTP server and `digest worker`: restarted cleanly once and killed once,
every edition still goes out exactly once to every reader."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path

import requests
from sqlalchemy import select

from digest.config import load_config
from digest.models import Delivery, Edition, EditionItem, Item, JobRun, SchedulerLock, Source, utcnow
from digest.runtime import Runtime
from tests.cli import DIGEST, digest
from tests.factories import make_subscribers
from tests.feedserver import body, running_server
from tests.scheduler.helpers import edition_copies
from tests.smtpserver import smtp_server

READERS = [f"reader{n}@example.org" for n in range(3)]
TEST_SCHEDULES = {
    "collect": "* * * * * *",  # every second
    "digest_assemble": "*/3 * * * * *",  # every 3 seconds …
    "digest_send": "2-59/3 * * * * *",  # … sent 2 seconds after
    "digest_auto_send": True,
    "send_scheduled": "* * * * * *",
    "expire_calls": "30 * * * * *",
    "cleanup": "0 30 3 * * *",
    "lease_seconds": 2,
}


def start(command: str, config: Path, output: Path) -> subprocess.Popen[bytes]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    with open(output, "ab") as log:
        return subprocess.Popen(
            [*DIGEST, command, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT, env=environment
        )


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.2)


def rss(entries: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>https://news.example.eu/{n}</link><guid>item-{n}</guid>"
        f"<pubDate>{format_datetime(utcnow())}</pubDate></item>"
        for n, title in enumerate(entries)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>{items}</channel></rss>'.encode()


def approve_collected(runtime: Runtime, titles: list[str]) -> bool:
    """The editor's part: approve the round's items once they are collected."""
    with runtime.sessions() as session, session.begin():
        items = list(session.scalars(select(Item).where(Item.title.in_(titles))))
        if len(items) < len(titles):
            return False
        for item in items:
            if item.status == "pending":
                item.status, item.approved_at = "approved", utcnow()
        return True


def carried_by_sent_editions(runtime: Runtime) -> dict[str, list[int]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Item.title, Edition.id)
            .join(EditionItem, EditionItem.item_id == Item.id)
            .join(Edition, Edition.id == EditionItem.edition_id)
            .where(Edition.status == "sent")
        )
        carried: dict[str, list[int]] = {}
        for title, edition_id in rows:
            carried.setdefault(title, []).append(edition_id)
        return carried


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def all_delivered(runtime: Runtime) -> bool:
    with runtime.sessions() as session:
        return session.scalar(select(Delivery.id).where(Delivery.status != "sent").limit(1)) is None


def test_the_scheduler_process_sends_every_edition_exactly_once_across_restarts(write_config, tmp_path) -> None:
    with smtp_server() as (handler, port), running_server() as feeds:
        entries: list[str] = []
        url = feeds.route("/news.rss", body(rss(entries)))
        mail = {"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": port, "timeout_seconds": 5}}
        config = write_config(mail=mail, schedules=TEST_SCHEDULES, delivery={"retry_seconds": 0.1})
        digest("init", config=config)
        runtime = Runtime(load_config(config, environ={}))
        with runtime.sessions() as session, session.begin():
            session.add(Source(name="news", url=url, kind="news", enabled=True, consecutive_errors=0))
            make_subscribers(session, len(READERS))
        logs = tmp_path / "scheduler.log"
        worker = start("worker", config, tmp_path / "worker.log")
        scheduler = start("scheduler", config, logs)
        try:
            for round_number in range(3):
                titles = [f"Round {round_number} item {n}" for n in range(2)]
                entries += titles
                feeds.route("/news.rss", body(rss(entries)))
                wait_until(lambda titles=titles: approve_collected(runtime, titles), "the round's items collected")
                if round_number == 1:  # a clean restart
                    scheduler.send_signal(signal.SIGTERM)
                    assert scheduler.wait(timeout=60) == 0
                    scheduler = start("scheduler", config, logs)
                if round_number == 2:  # a crash: the new scheduler waits for the lease to run out
                    scheduler.kill()
                    scheduler.wait(timeout=10)
                    scheduler = start("scheduler", config, logs)
                wait_until(lambda titles=titles: set(titles) <= carried_by_sent_editions(runtime).keys(), "sent")
            wait_until(lambda: all_delivered(runtime), "every delivery made")
            scheduler.send_signal(signal.SIGTERM)
            assert scheduler.wait(timeout=60) == 0
        finally:
            for process in (scheduler, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=60)

        with runtime.sessions() as session:
            sent = set(session.scalars(select(Edition.id).where(Edition.status == "sent")))
        copies = edition_copies(handler, runtime)
        runtime.close()
        carried = carried_by_sent_editions(Runtime(load_config(config, environ={})))
        output = logs.read_text(encoding="utf-8")

    assert sorted(carried) == sorted(entries) and all(len(editions) == 1 for editions in carried.values())
    assert {edition for edition, _ in copies} == sent  # every sent edition reached the server, nothing else did
    assert set(copies) == {(edition, reader) for edition in sent for reader in READERS}
    assert set(copies.values()) == {1}  # exactly once each
    assert output.count("stopped; scheduler lock released") == 2  # the clean restart and the final stop
    assert "took over the scheduler lock from" in output  # from the killed one, whose lease had to run out
    assert "Traceback" not in output


def test_a_wrong_schedule_stops_the_scheduler_at_start_up_with_one_line(write_config) -> None:
    config = write_config()
    digest("init", config=config)
    config.write_text(config.read_text().replace("sources: []", "sources: []\nschedules: {cleanup: '30 3 * *'}"))
    result = digest("scheduler", config=config, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().endswith(
        "schedules.cleanup: not a valid cron expression '30 3 * *': expected 5 fields (minute hour day month "
        "day-of-week), or 6 with seconds first; got 4"
    )
    assert len(result.stderr.strip().splitlines()) == 1


def test_digest_run_runs_the_scheduler_beside_the_web_app(write_config, tmp_path) -> None:
    config = write_config(schedules={"lease_seconds": 2})
    digest("init", config=config)
    output = tmp_path / "run.log"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    with open(output, "wb") as log:
        process = subprocess.Popen(
            [*DIGEST, "run", "--port", "0", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, env=environment,
        )  # fmt: skip
    runtime = Runtime(load_config(config, environ={}))
    try:
        wait_until(lambda: "catch-up done" in output.read_text(encoding="utf-8"), "the scheduler's first pass")
        wait_until(lambda: "open http://" in output.read_text(encoding="utf-8"), "the web app")
        url = re.search(r"open (http://\S+)", output.read_text(encoding="utf-8")).group(1)
        wait_until(lambda: answers(f"{url}healthz"), "the web app answering")  # it stops on SIGTERM from then on
        with runtime.sessions() as session:
            holder = session.scalar(select(SchedulerLock.owner))
        assert f":{process.pid}:" in holder  # this process holds the scheduler lock
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    with runtime.sessions() as session:
        assert session.scalar(select(SchedulerLock.owner)) is None  # released on the way out
        jobs = set(session.scalars(select(JobRun.job)))
    runtime.close()
    assert jobs == {"collect", "expire_calls", "digest_assemble", "send_scheduled", "cleanup"}
    assert "Traceback" not in output.read_text(encoding="utf-8")
