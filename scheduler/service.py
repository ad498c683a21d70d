"""The scheduler service: while this process holds the scheduler lease, APScheduler fires the jobs at
their trigger times and the runner decides and records what each run does.

- The scheduler's state lives in one place, the ``job_runs`` table: it says which trigger time each job
  last answered, so a restart needs nothing APScheduler would remember, and APScheduler keeps its jobs
  in memory (calling this service's own methods).
- One ``BackgroundScheduler`` per spell in charge, the triggers in ``site.timezone``; one executor
  thread, so jobs run one at a time (and SQLite sees one writer); ``coalesce`` and
  ``misfire_grace_time=None``, so a trigger time APScheduler could not honour on time (its thread was
  busy, the machine slept) runs once, late. What that run does is the runner's decision, with the same
  rules as after downtime.
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
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from digest.models import utcnow
from digest.runtime import Runtime
from scheduler.lock import Holder, Lease, scheduler_identity
from scheduler.runner import Runner

log = logging.getLogger(__name__)
CATCH_UP = "catch-up"
CATCH_UP_NEVER_AGAIN_DAYS = 36_500


class SchedulerService:
    def __init__(self, runtime: Runtime, owner: str | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        """``clock`` gives the time of the lease and of the runs (tests pass one they control)."""
        self.runtime = runtime
        self.owner = owner or scheduler_identity()
        self.clock = clock
        lease_seconds = runtime.config.schedules.lease_seconds
        self.lease = Lease(runtime.sessions, self.owner, lease_seconds, clock)
        self.heartbeat_seconds = lease_seconds / 4
        self._in_charge, self._on_standby = threading.Event(), threading.Event()
        self.runner = Runner(runtime, self.owner, in_charge=self._in_charge.is_set)

    @property
    def in_charge(self) -> bool:
        return self._in_charge.is_set()

    @property
    def on_standby(self) -> bool:
        """Found the lease held by another scheduler, and waits to take over."""
        return self._on_standby.is_set()

    def serve(self, stop: threading.Event) -> None:
        """Wait for the lease, run the jobs while holding it, until ``stop`` is set; then release it."""
        try:
            while not stop.is_set():
                try:
                    self._take_a_turn(stop)
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

    def _take_a_turn(self, stop: threading.Event) -> None:
        """Run the jobs while holding the lease (until stopped or it is lost), or wait a beat on standby."""
        previous = self.lease.holder()
        if self.lease.acquire():
            self._on_standby.clear()
            self._announce(previous)
            self._run_while_in_charge(stop)
            return
        if not self.on_standby:
            holder = self.lease.holder()
            who = f"{holder.owner} (lease until {holder.expires_at:%H:%M:%S} UTC)" if holder else "another"
            log.info("standby: the scheduler lock is held by %s; waiting to take over", who)
            self._on_standby.set()
        stop.wait(self.heartbeat_seconds)

    def _announce(self, previous: Holder | None) -> None:
        if previous is not None and previous.owner != self.owner:
            log.info(
                "took over the scheduler lock from %s (its lease ran out): in charge as %s", previous.owner, self.owner
            )
        else:
            log.info("in charge as %s", self.owner)

    def _run_while_in_charge(self, stop: threading.Event) -> None:
        interrupted = self.runner.take_charge(self.clock())
        if interrupted:
            log.info("%s run(s) left unfinished by a stopped scheduler will be done again", interrupted)
        scheduler = self._apscheduler()
        self._in_charge.set()
        try:
            scheduler.start()
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

    def _renew(self) -> bool:
        try:
            return self.lease.renew()
        except Exception:  # a database hiccup: keep going, and try again at the next beat
            log.exception("could not renew the scheduler lease; trying again")
            return True

    def _apscheduler(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(
            jobstores={"default": _KeptJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=ZoneInfo(self.runtime.config.site.timezone),
        )
        for spec in self.runner.specs.values():
            scheduler.add_job(self._fire, trigger=spec.trigger, args=[spec.name], id=spec.name, name=spec.label)
        # Once, now. A one-off job is removed from the store after it starts, which raises JobLookupError
        # when a stop has come meanwhile (APScheduler then looks for it among pending jobs only); a job with
        # a next time (far away: the service is restarted long before) is updated in the store instead.
        scheduler.add_job(self._catch_up, trigger=IntervalTrigger(days=CATCH_UP_NEVER_AGAIN_DAYS),
                          next_run_time=datetime.now(UTC), id=CATCH_UP, name="Catch up on missed runs")  # fmt: skip
        return scheduler

    def _fire(self, job: str) -> None:
        """What APScheduler calls at a job's trigger time."""
        self.runner.run_due(self.clock(), only=[job])

    def _catch_up(self) -> None:
        ran = self.runner.run_due(self.clock())
        log.info("catch-up done: %s", ", ".join(f"{run.job} {run.outcome}" for run in ran) or "nothing was owed")


class _KeptJobStore(MemoryJobStore):
    """APScheduler's in-memory store, but its shutdown leaves the jobs be. APScheduler empties the store on
    shutdown while its own thread may still be updating the job it has just started, which then fails
    with JobLookupError when a stop comes right after a start. The store is dropped with the scheduler."""

    def shutdown(self) -> None:
        return None


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
