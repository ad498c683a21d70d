"""The housekeeping jobs: lapsed open calls expire; old outbox files, abandoned delivery claims and old
run records are cleaned up. Each changes nothing the second time."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from digest.models import Delivery, Item, JobRun
from digest.runtime import Runtime
from scheduler.runner import Runner
from tests.delivery_helpers import queue_edition
from tests.factories import make_item
from tests.scheduler.helpers import job_runs

NOW = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def statuses(runtime: Runtime) -> dict[str, str]:
    with runtime.sessions() as session:
        return dict(session.execute(select(Item.title, Item.status)).all())


def test_open_calls_past_their_deadline_expire(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        make_item(session, "Pending, closed an hour ago", kind="call", status="pending", deadline=NOW - DAY / 24)
        make_item(session, "Approved, closed yesterday", kind="call", deadline=NOW - DAY)
        make_item(session, "Approved, closes tomorrow", kind="call", deadline=NOW + DAY)
        make_item(session, "Sent last week, now closed", kind="call", status="published", deadline=NOW - DAY)
        make_item(session, "Rejected, closed", kind="call", status="rejected", deadline=NOW - DAY)
    runner = Runner(runtime)

    runner.run_due(NOW, only=["expire_calls"])
    runner.run_due(NOW + timedelta(minutes=5), only=["expire_calls"])  # 07:05 in Brussels: its trigger time

    assert statuses(runtime) == {
        "Pending, closed an hour ago": "expired",
        "Approved, closed yesterday": "expired",
        "Approved, closes tomorrow": "approved",
        "Sent last week, now closed": "published",
        "Rejected, closed": "rejected",
    }
    first, second = job_runs(runtime, "expire_calls")
    assert first.detail == (
        "2 calls past the deadline expired: “Approved, closed yesterday”, “Pending, closed an hour ago” (first start)"
    )
    assert second.detail == "no open call past its deadline"


def test_cleanup_removes_old_outbox_files_requeues_abandoned_claims_and_prunes_old_runs(runtime: Runtime) -> None:
    outbox = runtime.config.outbox_dir
    outbox.mkdir(parents=True, exist_ok=True)
    ages = {"old.eml": 31, "recent.eml": 29, "half-written.tmp": 31, "notes.txt": 400}
    for name, days in ages.items():
        path = outbox / name
        path.write_text("x")
        os.utime(path, ((NOW - days * DAY).timestamp(),) * 2)
    edition_id, _ = queue_edition(runtime, 3)
    with runtime.sessions() as session, session.begin():
        abandoned, in_flight, waiting = session.scalars(
            select(Delivery).where(Delivery.edition_id == edition_id).order_by(Delivery.id)
        ).all()
        abandoned.status, abandoned.claimed_at = "sending", NOW - timedelta(minutes=11)  # lease 300 s: 2 leases ago
        in_flight.status, in_flight.claimed_at = "sending", NOW - timedelta(minutes=1)
        for days in (45, 40):
            session.add(JobRun(job="collect", scheduled_for=NOW - days * DAY, started_at=NOW - days * DAY,
                               finished_at=NOW - days * DAY, outcome="ok"))  # fmt: skip
        ids = abandoned.id, in_flight.id, waiting.id

    Runner(runtime).run_due(NOW, only=["cleanup"])

    assert sorted(path.name for path in outbox.iterdir()) == ["notes.txt", "recent.eml"]
    with runtime.sessions() as session:
        rows = {row.id: (row.status, row.claimed_at) for row in session.scalars(select(Delivery))}
        collect_runs = list(session.scalars(select(JobRun.scheduled_for).where(JobRun.job == "collect")))
    assert rows[ids[0]] == ("queued", None)
    assert rows[ids[1]] == ("sending", NOW - timedelta(minutes=1))  # a worker is on it
    assert rows[ids[2]][0] == "queued"
    assert collect_runs == [NOW - 40 * DAY]  # the job's latest run is its place in the schedule: kept
    [run] = job_runs(runtime, "cleanup")
    assert run.detail == (
        "2 outbox files older than 30 days removed; 1 stale delivery claim back in the queue; "
        "1 old run record pruned (first start)"
    )

    Runner(runtime).run_due(NOW + DAY, only=["cleanup"])  # a day later the claim in flight was abandoned too
    assert job_runs(runtime, "cleanup")[-1].detail.startswith(
        "0 outbox files older than 30 days removed; 1 stale delivery claim back in the queue; 0 old run records"
    )
