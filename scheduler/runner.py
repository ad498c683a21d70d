"""``Runner.run_due(now)``: every decision of the scheduler in one place, with the time given explicitly.

For each job it finds the trigger times passed since the trigger time the job last answered (from
``JobRun``), folds them into one run (coalescing), applies the job's misfire rule, runs the job and
records the run. The service calls it when APScheduler fires a job, and once on taking charge (the
catch-up after downtime); tests call it with a clock of their own. Calling it twice for the same time
runs nothing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from digest.runtime import Runtime
from scheduler import notices, plan, runs
from scheduler.jobs import JobContext, Result
from scheduler.notices import EditorNotifier
from scheduler.plan import JobSpec
from scheduler.policy import Due, describe, due, next_fire

log = logging.getLogger(__name__)
DATABASE_RETRY_SECONDS = (1, 5)  # waits before the second and third tries of a job the database interrupted


@dataclass(frozen=True)
class Ran:
    job: str
    fire: datetime
    outcome: str
    detail: str


class Runner:
    def __init__(
        self,
        runtime: Runtime,
        owner: str = "local",
        in_charge: Callable[[], bool] = lambda: True,
    ) -> None:
        self.runtime = runtime
        self.owner = owner
        self.in_charge = in_charge
        self.specs = {spec.name: spec for spec in plan.job_specs(runtime.config)}
        self.context = JobContext(runtime, plan.send_trigger(runtime.config), EditorNotifier(runtime))
        self._one_at_a_time = threading.Lock()

    def take_charge(self, now: datetime) -> int:
        """On taking the lease: runs left "running" by a scheduler that stopped mid-run are marked
        interrupted, so they are owed again. Returns how many."""
        with self.runtime.sessions() as session, session.begin():
            return runs.interrupt_unfinished(session, now)

    def run_due(self, now: datetime, only: Iterable[str] | None = None) -> list[Ran]:
        """Run every job (or those named) owing a run at ``now``, once each, in the plan's order."""
        wanted = set(only) if only is not None else set(self.specs)
        ran = []
        with self._one_at_a_time:
            for spec in self.specs.values():
                if spec.name not in wanted:
                    continue
                if not self.in_charge():  # the lease was lost: another scheduler runs the jobs now
                    break
                owed = self.owed(spec, now)
                if owed is not None:
                    ran.append(self._run(spec, owed, now))
        return ran

    def owed(self, spec: JobSpec, now: datetime) -> Due | None:
        """The run the job owes at ``now``, if any (a job that never ran and waits gets its starting point)."""
        with self.runtime.sessions() as session, session.begin():
            last = runs.last_answered(session, spec.name)
            if last is not None:
                return due(spec.trigger, last, now)
            if spec.runs_on_first_start:
                return Due(fire=now, first=True)
            first = next_fire(spec.trigger, now)
            when = notices.local(self.runtime.config, first) if first else "never"
            runs.record_baseline(session, spec.name, now, self.owner, f"first start: the first run is {when}")
            return None

    def _run(self, spec: JobSpec, owed: Due, now: datetime) -> Ran:
        with self.runtime.sessions() as session, session.begin():
            run_id = runs.begin(session, spec.name, owed.fire, now, self.owner).id
        started = time.monotonic()
        log.debug("%s: running (trigger time %s)", spec.name, owed.fire.isoformat())
        try:
            result = self._run_job(spec, now, owed.fire)
        except Exception as error:  # recorded and shown to the editors; the next trigger time runs again
            log.exception("%s: failed", spec.name)
            result = Result("error", f"{type(error).__name__}: {error}")
            if spec.error_advice:
                message = notices.job_failed(self.runtime.config, spec.label, owed.fire, str(error), spec.error_advice)
                result = Result("error", f"{result.detail}; {self.context.notifier.tell(message)}")
        note = describe(owed, now)
        detail = f"{result.detail} ({note})" if note else result.detail
        finished = now + timedelta(seconds=time.monotonic() - started)
        with self.runtime.sessions() as session, session.begin():
            runs.finish(session, run_id, result.outcome, detail, finished)
        log.info("%s: %s — %s", spec.name, result.outcome, detail)
        return Ran(spec.name, owed.fire, result.outcome, detail)

    def _run_job(self, spec: JobSpec, now: datetime, fire: datetime) -> Result:
        """Run the job; a database that is busy or briefly away gets a few more tries (jobs are idempotent)."""
        for wait in DATABASE_RETRY_SECONDS:
            try:
                return spec.run(self.context, now, fire)
            except OperationalError as error:
                log.warning("%s: database trouble (%s); trying again in %s s", spec.name, error.orig, wait)
                time.sleep(wait)
        return spec.run(self.context, now, fire)
