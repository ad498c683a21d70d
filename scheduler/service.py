"""The scheduler service: while this process holds the scheduler lease, APScheduler fires the jobs at
their trigger times and the runner decides and records what each run does.

- One ``BackgroundScheduler`` per spell in charge: the jobs in the ``SQLAlchemyJobStore`` of the project's
  own database (table ``apscheduler_jobs``), their triggers in ``site.timezone``; one executor thread, so
  jobs run one at a time (and SQLite sees one writer); ``coalesce`` and ``misfire_grace_time=None``, so a
  trigger time APScheduler could not honour on time (its thread was busy, the machine slept) runs once,
  late. What that run does is the runner's decision, with the same rules as after downtime.
- On taking charge, runs left unfinished by a scheduler that died are marked interrupted, then one
  catch-up pass runs what was missed while no scheduler was in charge (``scheduler.policy``).
- A second scheduler waits on standby, trying for the lease every quarter lease, and takes over once the
  holder's lease runs out. The holder renews it at the same pace; if it finds the lease taken (it hung for
  longer than a lease), it stops its jobs and goes back to standby.
- Stopping (SIGTERM/SIGINT in the CLI): the running job finishes, APScheduler shuts down, the lease is
  released at once so a standby scheduler need not wait for it to run out.
"""

from __future__ import annotations

import logging
import threading
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from digest.db import make_engine
from digest.models import utcnow
from digest.runtime import Runtime
from scheduler.lock import Holder, Lease, scheduler_identity
from scheduler.runner import Runner

log = logging.getLogger(__name__)
CATCH_UP = "catch-up"

# The stored jobs name their callable by reference ("scheduler.service:fire") and carry the owner, so
# a job fired by APScheduler finds the runner of the service that scheduled it.
_runners: dict[str, Runner] = {}


def fire(owner: str, job: str) -> None:
    """What APScheduler calls at a job's trigger time."""
    runner = _runners.get(owner)
    if runner is not None:  # None: a job left in the store by a scheduler that has stopped
        runner.run_due(utcnow(), only=[job])


class SchedulerService:
    def __init__(self, runtime: Runtime, owner: str | None = None) -> None:
        self.runtime = runtime
        self.owner = owner or scheduler_identity()
        lease_seconds = runtime.config.schedules.lease_seconds
        self.lease = Lease(runtime.sessions, self.owner, lease_seconds)
        self.heartbeat_seconds = lease_seconds / 4
        self._in_charge = threading.Event()
        self.runner = Runner(runtime, self.owner, in_charge=self._in_charge.is_set)

    @property
    def in_charge(self) -> bool:
        return self._in_charge.is_set()

    def serve(self, stop: threading.Event) -> None:
        """Wait for the lease, run the jobs while holding it, until ``stop`` is set; then release it."""
        on_standby = False
        try:
            while not stop.is_set():
                try:
                    on_standby = self._take_a_turn(stop, on_standby)
                except Exception:  # the database is away, most likely: the service stays up and tries again
                    log.exception("trouble; trying again in %g s", self.heartbeat_seconds)
                    stop.wait(self.heartbeat_seconds)
        finally:
            self._release()

    def _release(self) -> None:
        try:
            self.lease.release()
        except Exception:  # the database is away: the lease runs out by itself
            log.exception(
                "stopped; could not release the scheduler lock: it runs out within %g s",
                self.lease.duration.total_seconds(),
            )
            return
        log.info("stopped; scheduler lock released")

    def _take_a_turn(self, stop: threading.Event, on_standby: bool) -> bool:
        """Run the jobs while holding the lease (until stopped or it is lost), or wait a beat on standby.
        Returns whether this scheduler is on standby."""
        previous = self.lease.holder()
        if self.lease.acquire():
            self._announce(previous)
            self._run_while_in_charge(stop)
            return False
        if not on_standby:
            holder = self.lease.holder()
            who = f"{holder.owner} (lease until {holder.expires_at:%H:%M:%S} UTC)" if holder else "another"
            log.info("standby: the scheduler lock is held by %s; waiting to take over", who)
        stop.wait(self.heartbeat_seconds)
        return True

    def _announce(self, previous: Holder | None) -> None:
        if previous is not None and previous.owner != self.owner:
            log.info(
                "took over the scheduler lock from %s (its lease ran out): in charge as %s", previous.owner, self.owner
            )
        else:
            log.info("in charge as %s", self.owner)

    def _run_while_in_charge(self, stop: threading.Event) -> None:
        interrupted = self.runner.take_charge(utcnow())
        if interrupted:
            log.info("%s run(s) left unfinished by a stopped scheduler will be done again", interrupted)
        scheduler = self._apscheduler()
        self._in_charge.set()
        _runners[self.owner] = self.runner
        try:
            scheduler.start()
            self._forget_retired_jobs(scheduler)
            while not stop.wait(self.heartbeat_seconds):
                if not self._renew():
                    holder = self.lease.holder()
                    log.error(
                        "lost the scheduler lock to %s: stopping the jobs, back to standby",
                        holder.owner if holder else "nobody",
                    )
                    break
        finally:
            self._in_charge.clear()
            if scheduler.running:
                log.info("stopping: waiting for the running job, if any, to finish")
                scheduler.shutdown(wait=True)
            _runners.pop(self.owner, None)

    def _renew(self) -> bool:
        try:
            return self.lease.renew()
        except Exception:  # a database hiccup: keep going, and try again at the next beat
            log.exception("could not renew the scheduler lease; trying again")
            return True

    def _apscheduler(self) -> BackgroundScheduler:
        config = self.runtime.config
        store = SQLAlchemyJobStore(engine=make_engine(config.database_url), tablename="apscheduler_jobs")
        scheduler = BackgroundScheduler(
            jobstores={"default": store, "volatile": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=ZoneInfo(config.site.timezone),
        )
        for spec in self.runner.specs.values():
            scheduler.add_job(
                fire,
                trigger=spec.trigger,
                args=[self.owner, spec.name],
                id=spec.name,
                name=spec.label,
                replace_existing=True,
            )
        scheduler.add_job(self._catch_up, jobstore="volatile", id=CATCH_UP, name="Catch up on missed runs")
        return scheduler

    def _catch_up(self) -> None:
        ran = self.runner.run_due(utcnow())
        log.info("catch-up done: %s", ", ".join(f"{run.job} {run.outcome}" for run in ran) or "nothing was owed")

    def _forget_retired_jobs(self, scheduler: BackgroundScheduler) -> None:
        for job in scheduler.get_jobs(jobstore="default"):
            if job.id not in self.runner.specs:
                scheduler.remove_job(job.id, jobstore="default")


def show_progress_on_stderr() -> None:
    """The service's own messages (standby, in charge, each run) on stderr, for `digest scheduler` and `run`."""
    logger = logging.getLogger("scheduler")
    if any(getattr(handler, "digest_scheduler", False) for handler in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.digest_scheduler = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s scheduler: %(message)s", "%Y-%m-%d %H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def start_in_thread(runtime: Runtime, stop: threading.Event) -> tuple[SchedulerService, threading.Thread]:
    """The service beside other work in one process (`digest run`); it ends once ``stop`` is set."""
    service = SchedulerService(runtime)
    thread = threading.Thread(target=service.serve, args=(stop,), name="scheduler", daemon=True)
    thread.start()
    return service, thread
