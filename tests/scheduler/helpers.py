"""Helpers for the scheduler tests: times in Brussels, a runtime mailing a real SMTP server, a feed that
publishes new items week by week, and what the scheduler recorded and sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from digest.audit import SYSTEM
from digest.config import load_config
from digest.db import upgrade
from digest.editors.accounts import add_editor
from digest.models import Delivery, Edition, Item, JobRun, Source
from digest.runtime import Runtime
from scheduler.runner import Runner
from tests.delivery_helpers import drain
from tests.factories import make_subscribers
from tests.feedserver import FeedServer, body
from tests.smtpserver import RecordingHandler

BRUSSELS = ZoneInfo("Europe/Brussels")
EDITOR = "editor@example.org"
# Monday 4 January 2027, the first week the tests run through.
FIRST_MONDAY = datetime(2027, 1, 4, tzinfo=BRUSSELS)


def brussels(day: datetime, hour: int, minute: int = 0) -> datetime:
    """That day at that time on the wall clocks of Brussels, as UTC."""
    return day.replace(hour=hour, minute=minute).astimezone(UTC)


def monday(week: int) -> datetime:
    return FIRST_MONDAY + timedelta(weeks=week)


def scheduler_runtime(write_config: Callable[..., Path], smtp_port: int, **schedules: Any) -> Runtime:
    """A migrated runtime that mails through the test SMTP server, with 3 readers and 1 editor."""
    mail = {"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout_seconds": 5}}
    delivery = {"batch_size": 50, "lease_seconds": 60, "max_attempts": 3, "retry_seconds": 0.05}
    path = write_config(mail=mail, delivery=delivery, schedules=schedules)
    runtime = Runtime(load_config(path, environ={}))
    upgrade(runtime.engine)
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 3)
        add_editor(session, SYSTEM, EDITOR, "a long editor password")
    return runtime


class WeeklyFeed:
    """A news feed on the test HTTP server that gains items as the weeks go by."""

    def __init__(self, server: FeedServer, runtime: Runtime, path: str = "/news.rss") -> None:
        self.server, self.path, self.entries = server, path, []
        url = server.route(path, self._render())
        with runtime.sessions() as session, session.begin():
            session.add(Source(name="cluster-news", url=url, kind="news", enabled=True, consecutive_errors=0))

    def publish(self, title: str, when: datetime) -> None:
        self.entries.append((title, when))
        self.server.route(self.path, self._render())

    def _render(self) -> Any:
        items = "".join(
            f"<item><title>{title}</title><link>https://news.example.eu/{n}</link><guid>news-{n}</guid>"
            f"<pubDate>{format_datetime(when)}</pubDate><description>About {title}.</description></item>"
            for n, (title, when) in enumerate(self.entries)
        )
        rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Cluster news</title>{items}</channel></rss>'
        return body(rss.encode())


class Cycle:
    """The scheduler (a Runner, as the service runs it) and a delivery worker, driven by a test clock."""

    def __init__(self, runtime: Runtime, owner: str = "test-scheduler") -> None:
        self.runtime = runtime
        self.runner = Runner(runtime, owner)

    def at(self, now: datetime) -> list[tuple[str, str]]:
        """What a scheduler does at ``now``, then the worker delivers what was queued. Returns (job, outcome)."""
        ran = self.runner.run_due(now)
        drain(self.runtime, clock=lambda: now)
        return [(run.job, run.outcome) for run in ran]

    def restart(self, now: datetime, owner: str = "restarted-scheduler") -> None:
        """A new scheduler process taking charge at ``now``: nothing carried over but the database."""
        self.runner = Runner(self.runtime, owner)
        self.runner.take_charge(now)


def approve_pending(runtime: Runtime, now: datetime) -> list[str]:
    """An editor approves everything waiting, at ``now``."""
    with runtime.sessions() as session, session.begin():
        items = list(session.scalars(select(Item).where(Item.status == "pending").order_by(Item.id)))
        for item in items:
            item.status, item.approved_at = "approved", now
        return [item.title for item in items]


def digests(runtime: Runtime) -> list[Edition]:
    with runtime.sessions() as session:
        editions = list(session.scalars(select(Edition).where(Edition.type == "digest").order_by(Edition.id)))
        for edition in editions:
            edition.titles = [entry.item.title for entry in edition.entries]  # type: ignore[attr-defined]
        return editions


def job_runs(runtime: Runtime, job: str) -> list[JobRun]:
    with runtime.sessions() as session:
        return list(session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)))


def edition_copies(handler: RecordingHandler, runtime: Runtime) -> Counter[tuple[int, str]]:
    """How many copies of each edition each recipient got: the Message-IDs the server saw (random, one per
    message), traced back to their deliveries in the ledger. An edition message (it has a List-Id) whose
    Message-ID the ledger does not hold, a copy sent again, counts under edition 0."""
    with runtime.sessions() as session:
        ledger = select(Delivery.message_id, Delivery.edition_id).where(Delivery.message_id.is_not(None))
        editions = dict(session.execute(ledger).all())
    copies: Counter[tuple[int, str]] = Counter()
    for received in handler.received:
        message = received.message
        if message["List-Id"] is None:
            continue
        for recipient in received.recipients:
            copies[(editions.get(message["Message-ID"], 0), recipient)] += 1
    return copies


def notices_to_editors(handler: RecordingHandler) -> list[str]:
    return [received.message["Subject"] for received in handler.to(EDITOR)]
