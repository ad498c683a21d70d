"""The record of every scheduled run (``JobRun``): what the editors' page shows, and how the scheduler
knows which trigger time each job last answered, so that a run is done once per trigger time across
restarts and changes of scheduler."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from digest.models import JobRun

OUTCOMES = ("running", "ok", "skipped", "error", "interrupted")
UNANSWERED = ("running", "interrupted")  # such a run has not answered its trigger time: it is done again


def begin(session: Session, job: str, fire: datetime, now: datetime, owner: str) -> JobRun:
    run = JobRun(job=job, scheduled_for=fire, started_at=now, outcome="running", owner=owner)
    session.add(run)
    session.flush()
    return run


def finish(session: Session, run_id: int, outcome: str, detail: str, finished_at: datetime) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    session.execute(
        update(JobRun).where(JobRun.id == run_id).values(outcome=outcome, detail=detail, finished_at=finished_at)
    )


def record_baseline(session: Session, job: str, now: datetime, owner: str, detail: str) -> None:
    """A job that waits for its first trigger time: trigger times before ``now`` are not owed."""
    session.add(
        JobRun(
            job=job, scheduled_for=now, started_at=now, finished_at=now, outcome="skipped", detail=detail, owner=owner
        )
    )


def last_answered(session: Session, job: str) -> datetime | None:
    """The latest trigger time the job has answered (run, skipped or failed), or None if never."""
    return session.scalar(  # newest first along ix_job_runs_job_scheduled: stops at the first answered run
        select(JobRun.scheduled_for)
        .where(JobRun.job == job, JobRun.outcome.not_in(UNANSWERED), JobRun.scheduled_for.is_not(None))
        .order_by(JobRun.scheduled_for.desc())
        .limit(1)
    )


def interrupt_unfinished(session: Session, now: datetime) -> int:
    """Runs left "running" by a scheduler that stopped in the middle: they will be done again."""
    result = session.execute(
        update(JobRun)
        .where(JobRun.outcome == "running")
        .values(
            outcome="interrupted",
            finished_at=now,
            detail="interrupted: the scheduler stopped during this run, which is done again",
        )
    )
    return result.rowcount or 0


def latest_runs(session: Session) -> dict[str, JobRun]:
    """The most recent run of each job."""
    newest = select(func.max(JobRun.id)).group_by(JobRun.job)
    return {run.job: run for run in session.scalars(select(JobRun).where(JobRun.id.in_(newest)))}


def prune(session: Session, now: datetime, keep: timedelta) -> int:
    """Forget runs older than ``keep``, except each job's latest answered one (its place in the schedule)."""
    answered = select(func.max(JobRun.id)).where(JobRun.outcome.not_in(UNANSWERED)).group_by(JobRun.job)
    result = session.execute(
        delete(JobRun).where(JobRun.started_at < now - keep, JobRun.outcome != "running", JobRun.id.not_in(answered))
    )
    return result.rowcount or 0
