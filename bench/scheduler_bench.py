"""Scheduler benchmark (not a test): prints figures, asserts nothing.

Fills a fresh database with DAYS days of run records at the default schedules (a send_scheduled run
every minute, a collect run every half hour, …: what the cleanup job keeps), then measures:

  (a) a tick with nothing owed: what APScheduler's call costs when the job already ran (median of 50);
  (b) a send_scheduled tick with no edition due (median of 50): the every-minute cost;
  (c) the editors' schedule page's data (``scheduler_status``, median of 20);
  (d) finding the run owed after long downtime: a per-second schedule after 40 days, a weekly one after a year.

    .venv/bin/python bench/scheduler_bench.py [--days 30] [--database-url URL]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from common import bench_arguments, bench_setup, median_ms
from sqlalchemy import insert

from digest.models import JobRun
from digest.runtime import Runtime
from scheduler.cron import cron_trigger
from scheduler.plan import job_specs
from scheduler.policy import latest_fire
from scheduler.runner import Runner
from scheduler.status import scheduler_status

NOW = datetime(2027, 1, 4, 6, 0, 30, tzinfo=UTC)


def fill(runtime: Runtime, days: int) -> int:
    """Every trigger time of every job over ``days`` days, answered ok."""
    rows = []
    start = NOW - timedelta(days=days)
    for spec in job_specs(runtime.config):
        fire = spec.trigger.get_next_fire_time(None, start)
        while fire is not None and fire <= NOW:
            rows.append({"job": spec.name, "scheduled_for": fire, "started_at": fire, "finished_at": fire,
                         "outcome": "ok", "detail": "no edition due", "owner": "bench"})  # fmt: skip
            fire = spec.trigger.get_next_fire_time(fire, fire)
    with runtime.sessions() as session, session.begin():
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(JobRun), rows[chunk : chunk + 5000])
    return len(rows)


def main() -> None:
    options = bench_arguments(__doc__, days=30)
    with bench_setup(options.database_url) as (_, runtime):
        count = fill(runtime, options.days)
        runner = Runner(runtime, "bench")
        print(f"database: {runtime.engine.url.get_backend_name()}, {count:,} run records ({options.days} days)")

        nothing_owed = median_ms(lambda: runner.run_due(NOW), 50)
        print(f"(a) a tick with nothing owed (5 jobs checked): {nothing_owed:.2f} ms")

        minute = [NOW + timedelta(minutes=n + 1) for n in range(50)]
        ticks = iter(minute)
        send_tick = median_ms(lambda: runner.run_due(next(ticks), only=["send_scheduled"]), 50)
        print(f"(b) a send_scheduled tick, no edition due (run and recorded): {send_tick:.2f} ms")

        page = median_ms(lambda: scheduler_status(runtime, minute[-1]), 20)
        print(f"(c) the schedule page's data: {page:.2f} ms")

        every_second = cron_trigger("* * * * * *", "Europe/Brussels")
        weekly = cron_trigger("0 7 * * mon", "Europe/Brussels")
        after_downtime = median_ms(lambda: latest_fire(every_second, NOW - timedelta(days=40), NOW), 5)
        after_a_year = median_ms(lambda: latest_fire(weekly, NOW - timedelta(days=365), NOW), 5)
        print(f"(d) latest trigger time after downtime: per-second schedule, 40 days: {after_downtime:.1f} ms; "
              f"weekly schedule, a year: {after_a_year:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
