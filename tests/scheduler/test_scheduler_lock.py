"""One scheduler at a time: the lease in the database, a second scheduler on standby beside the first
(threads and real processes, real leases), taking over when the first stops or dies.

The lease is asserted at given instants (a clock the test controls); the services in threads share a
clock that stands still, so no lease runs out because the machine is slow. Tests wait for what they can
observe (a scheduler in charge or on standby, a line in a process's log), never for time to pass."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect, select, text

from digest.config import load_config
from digest.models import JobRun, utcnow
from digest.runtime import Runtime
from scheduler.lock import Lease
from scheduler.service import SchedulerService
from tests.cli import DIGEST, digest

T0 = datetime.fromisoformat("2027-01-04T06:00:00+00:00")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.05)


def test_the_lease_has_one_holder_renewed_and_taken_over_only_once_it_ran_out(runtime: Runtime) -> None:
    clock = Clock(T0)
    first, second = (Lease(runtime.sessions, name, 60, clock) for name in ("first", "second"))
    assert first.acquire() and not second.acquire()
    clock.advance(45)
    assert first.renew() and not second.acquire()
    clock.advance(45)  # 90 s after taking it, but renewed 45 s ago
    assert not second.acquire()
    clock.advance(61)  # the first fell silent for longer than a lease
    assert second.acquire()
    assert first.holder().owner == "second" and first.holder().acquired_at == clock.now
    assert not first.renew() and not first.acquire()
    first.release()  # releases only its own lease
    assert second.holder().owner == "second"
    second.release()
    assert second.holder() is None and first.acquire()


def test_schedulers_starting_at_once_get_one_lease(runtime: Runtime) -> None:
    leases = [Lease(runtime.sessions, f"scheduler-{n}", 60) for n in range(6)]
    start, won = threading.Barrier(len(leases)), []

    def race(lease: Lease) -> None:
        start.wait()
        if lease.acquire():
            won.append(lease.owner)

    threads = [threading.Thread(target=race, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and leases[0].holder().owner == won[0]


@contextmanager
def serving(service: SchedulerService) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=service.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive()


def fresh_runtime(config_path: Path) -> Runtime:
    """A runtime of its own, as another process would have (its own engine and connections)."""
    return Runtime(load_config(config_path, environ={}))


def apscheduler_rows(runtime: Runtime) -> int:
    """Rows in any table of APScheduler's own (the scheduler's state is its ``job_runs`` only)."""
    tables = [name for name in inspect(runtime.engine).get_table_names() if name.startswith("apscheduler")]
    with runtime.engine.connect() as connection:
        return sum(connection.scalar(text(f"SELECT count(*) FROM {name}")) for name in tables)


def test_a_second_scheduler_waits_on_standby_and_takes_over_when_the_first_stops(write_config) -> None:
    config = write_config(schedules={"lease_seconds": 1})
    digest("init", config=config)
    clock = Clock(utcnow())  # stands still: the first's lease cannot run out however slow the machine is
    first = SchedulerService(fresh_runtime(config), "first", clock)
    second = SchedulerService(fresh_runtime(config), "second", clock)
    with serving(first) as stop_first:
        wait_until(lambda: first.in_charge)
        with serving(second):
            wait_until(lambda: second.on_standby)
            assert first.in_charge and not second.in_charge
            assert second.lease.holder().owner == "first"
            stop_first.set()  # the first releases the lease on its way out
            wait_until(lambda: second.in_charge)
            assert second.lease.holder().owner == "second" and not second.on_standby
    assert first.lease.holder() is None  # released on the way out
    with first.runtime.sessions() as session:
        answered = Counter(session.execute(select(JobRun.job, JobRun.scheduled_for)).all())
    assert answered and max(answered.values()) == 1  # no trigger time was run twice
    assert apscheduler_rows(first.runtime) == 0  # APScheduler's jobs lived in memory only


def test_a_scheduler_that_lost_its_lease_stops_its_jobs_and_waits(write_config) -> None:
    config = write_config(schedules={"lease_seconds": 1})
    digest("init", config=config)
    clock = Clock(utcnow())
    service = SchedulerService(fresh_runtime(config), "hung", clock)
    with serving(service):
        wait_until(lambda: service.in_charge)
        # Another scheduler whose clock is two minutes ahead finds the lease run out and takes it.
        intruder = Lease(service.runtime.sessions, "intruder", 60, clock=lambda: clock.now + timedelta(minutes=2))
        assert intruder.acquire()
        wait_until(lambda: service.on_standby)
        assert not service.in_charge and service.lease.holder().owner == "intruder"
        intruder.release()
        wait_until(lambda: service.in_charge)  # back from standby once the lease is free


def start_scheduler(config: Path, output: Path) -> subprocess.Popen[bytes]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    with open(output, "wb") as log:
        return subprocess.Popen(
            [*DIGEST, "scheduler", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT, env=environment
        )


def wait_for_text(path: Path, text: str, timeout: float = 30.0) -> str:
    wait_until(lambda: text in path.read_text(encoding="utf-8", errors="replace"), timeout)
    return path.read_text(encoding="utf-8")


def test_a_standby_scheduler_process_takes_over_when_the_first_is_killed(write_config, tmp_path: Path) -> None:
    # Real clocks here: each step waits for what the processes write to their logs. The lease is long
    # enough that a busy machine does not let the first's lease run out before it is killed.
    config = write_config(schedules={"lease_seconds": 3})
    digest("init", config=config)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_scheduler(config, first_log)
    second = None
    try:
        wait_for_text(first_log, "in charge as")
        second = start_scheduler(config, second_log)
        wait_for_text(second_log, "standby: the scheduler lock is held by")
        first.kill()  # no clean shutdown: the lease is left to run out
        first.wait(timeout=10)
        output = wait_for_text(second_log, "took over the scheduler lock from")
        assert "Traceback" not in output
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=60) == 0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    output = second_log.read_text(encoding="utf-8")
    assert "stopped; scheduler lock released" in output and output.rstrip().endswith("scheduler: stopped")
    runtime = fresh_runtime(config)
    assert Lease(runtime.sessions, "anyone", 60).holder() is None
    runtime.close()


def test_stopping_the_scheduler_leaves_the_job_it_is_finishing_in_its_store() -> None:
    """The race behind "JobLookupError: No job by the id of catch-up": APScheduler's shutdown empties the
    store while its thread is about to remove the one-off job it has just run."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from scheduler.service import _KeptJobStore

    store = _KeptJobStore()
    scheduler = BackgroundScheduler(jobstores={"default": store})
    scheduler.start(paused=True)  # jobs go into the store, none runs
    try:
        scheduler.add_job(print, id="catch-up")
        store.shutdown()  # what scheduler.shutdown() does to every store, from the stopping thread
        scheduler.remove_job("catch-up")  # what the scheduler's own thread then does: no JobLookupError
    finally:
        scheduler.shutdown(wait=False)
