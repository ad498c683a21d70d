"""What the editors' page shows: who holds the scheduler lock, each job's next run and its last result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from digest.models import JobRun
from digest.runtime import Runtime
from scheduler import runs
from scheduler.lock import Holder, current_holder
from scheduler.plan import job_specs
from scheduler.policy import due, next_fire


@dataclass(frozen=True)
class JobStatus:
    name: str
    label: str
    schedule: str
    misfire: str
    next_run: datetime | None
    owed_since: datetime | None  # the first trigger time passed that no scheduler has answered yet
    last: JobRun | None


@dataclass(frozen=True)
class SchedulerStatus:
    holder: Holder | None
    running: bool  # a scheduler holds a live lease
    jobs: list[JobStatus]
    recent: list[JobRun]


def scheduler_status(runtime: Runtime, now: datetime, recent: int = 15) -> SchedulerStatus:
    with runtime.sessions() as session:
        holder = current_holder(session)
        latest = runs.latest_runs(session)
        jobs = []
        for spec in job_specs(runtime.config):
            answered = runs.last_answered(session, spec.name)
            owed = due(spec.trigger, answered, now) if answered is not None else None
            owed_since = next_fire(spec.trigger, answered) if owed is not None and answered is not None else None
            jobs.append(
                JobStatus(
                    name=spec.name,
                    label=spec.label,
                    schedule=spec.schedule,
                    misfire=spec.misfire.value,
                    next_run=next_fire(spec.trigger, now),
                    owed_since=owed_since,
                    last=latest.get(spec.name),
                )
            )
        history = list(session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(recent)))
    running = holder is not None and holder.expires_at > now
    return SchedulerStatus(holder, running, jobs, history)
