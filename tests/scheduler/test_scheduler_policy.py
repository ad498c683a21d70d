"""Schedules and misfire rules: cron expressions (5 or 6 fields, named weekdays), coalescing missed runs,
and daylight-saving changes in Europe/Brussels (a 02:30 job runs once on both change days)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger

from digest.config import ConfigError, load_config
from digest.db import upgrade
from digest.runtime import Runtime
from scheduler.cron import cron_trigger
from scheduler.policy import Due, due, latest_fire, next_fire
from scheduler.runner import Runner
from tests.scheduler.helpers import BRUSSELS, brussels, job_runs, monday

HOUR = timedelta(hours=1)


def fires(trigger: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    found, fire = [], trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        found.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, fire)
    return found


def runtime_with(write_config: Callable[..., Path], **schedules: str) -> Runtime:
    runtime = Runtime(load_config(write_config(schedules=schedules), environ={}))
    upgrade(runtime.engine)
    return runtime


def drive(runner: Runner, job: str, start: datetime, end: datetime, step: timedelta) -> None:
    """A scheduler looking at the clock every ``step`` from ``start`` to ``end``."""
    now = start
    while now <= end:
        runner.run_due(now, only=[job])
        now += step


def test_schedules_take_five_fields_or_six_with_seconds_first() -> None:
    weekly = cron_trigger("0 7 * * mon", "Europe/Brussels")
    assert next_fire(weekly, datetime(2027, 1, 1, tzinfo=UTC)) == brussels(monday(0), 7)
    every_five_seconds = cron_trigger("*/5 * * * * *", "UTC")
    start = datetime(2027, 1, 1, 12, 0, 1, tzinfo=UTC)
    assert fires(every_five_seconds, start, start + timedelta(seconds=12)) == [
        datetime(2027, 1, 1, 12, 0, second, tzinfo=UTC) for second in (5, 10)
    ]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("0 7 * * 1", "name the days of the week (mon, tue, … sun, or a range such as mon-fri), not numbers"),
        ("0 7 * *", "expected 5 fields (minute hour day month day-of-week), or 6 with seconds first; got 4"),
        ("0 25 * * mon", "Error validating expression '25'"),
    ],
)
def test_a_wrong_schedule_is_one_clear_error_at_start_up(
    write_config: Callable[..., Path], schedule: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write_config(schedules={"digest_assemble": schedule}), environ={})
    assert f"schedules.digest_assemble: not a valid cron expression {schedule!r}: {message}" in str(error.value)


def test_missed_trigger_times_are_folded_into_one_run_for_the_latest() -> None:
    hourly = cron_trigger("0 * * * *", "UTC")
    ten = datetime(2027, 1, 4, 10, tzinfo=UTC)
    assert due(hourly, ten, ten + 5 * HOUR + timedelta(minutes=20)) == Due(ten + 5 * HOUR, missed=True, since=ten)
    assert due(hourly, ten, ten + HOUR + timedelta(seconds=30)) == Due(ten + HOUR, missed=False, since=ten)
    assert due(hourly, ten, ten + timedelta(minutes=59)) is None
    assert due(hourly, ten, ten) is None


def test_the_latest_trigger_time_is_found_quickly_after_long_downtime() -> None:
    every_second = cron_trigger("* * * * * *", "UTC")
    now = datetime(2027, 1, 4, 10, 0, 0, 500000, tzinfo=UTC)
    assert latest_fire(every_second, now - timedelta(days=40), now) == now.replace(microsecond=0)
    monthly = cron_trigger("0 6 1 * *", "Europe/Brussels")
    assert latest_fire(monthly, now - timedelta(days=400), now) == datetime(2027, 1, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(
            datetime(2027, 3, 27, 12, tzinfo=UTC),
            # 28 March 2027 has no 02:30 in Brussels (02:00 CET → 03:00 CEST): the run comes an hour later, once.
            [
                datetime(2027, 3, 28, 1, 30, tzinfo=UTC),  # 03:30 CEST
                datetime(2027, 3, 29, 0, 30, tzinfo=UTC),  # 02:30 CEST the next day
            ],
            id="forward",
        ),
        pytest.param(
            datetime(2027, 10, 30, 12, tzinfo=UTC),
            # 31 October 2027 has 02:30 twice (03:00 CEST → 02:00 CET): only the first runs.
            [
                datetime(2027, 10, 31, 0, 30, tzinfo=UTC),  # 02:30 CEST
                datetime(2027, 11, 1, 1, 30, tzinfo=UTC),  # 02:30 CET the next day
            ],
            id="back",
        ),
    ],
)
def test_a_0230_job_runs_once_when_the_clocks_change(
    write_config: Callable[..., Path], start: datetime, expected: list[datetime]
) -> None:
    runtime = runtime_with(write_config, cleanup="30 2 * * *")
    drive(Runner(runtime), "cleanup", start, start + timedelta(days=2), HOUR / 4)
    _first_start, *scheduled = job_runs(runtime, "cleanup")
    assert [run.scheduled_for for run in scheduled] == expected
    assert [run.outcome for run in scheduled] == ["ok", "ok"]
    runtime.close()


def test_plain_apscheduler_cron_would_run_a_0230_job_twice_when_the_clocks_go_back() -> None:
    """That is why the schedules use SiteCronTrigger."""
    plain = CronTrigger.from_crontab("30 2 * * *", timezone=BRUSSELS)
    assert len(fires(plain, datetime(2027, 10, 30, 12, tzinfo=UTC), datetime(2027, 10, 31, 12, tzinfo=UTC))) == 2


def test_interval_schedules_follow_real_time_through_both_changes(write_config: Callable[..., Path]) -> None:
    runtime = runtime_with(write_config, collect="*/30 * * * *")
    runner = Runner(runtime)
    for day, hours in ((datetime(2027, 3, 28, tzinfo=BRUSSELS), 23), (datetime(2027, 10, 31, tzinfo=BRUSSELS), 25)):
        start, end = day.astimezone(UTC), (day + timedelta(days=1)).astimezone(UTC) - timedelta(minutes=1)
        drive(runner, "collect", start, end, HOUR / 2)
        on_that_day = [run for run in job_runs(runtime, "collect") if start <= run.scheduled_for <= end]
        assert len(on_that_day) == 2 * hours  # every half hour of a 23-hour and of a 25-hour day
    runtime.close()


def test_the_weekly_assembly_keeps_its_wall_clock_time_across_the_change() -> None:
    weekly = cron_trigger("0 7 * * mon", "Europe/Brussels")
    before, after = datetime(2027, 3, 22, 6, tzinfo=UTC), datetime(2027, 3, 29, 5, tzinfo=UTC)  # 07:00 CET, CEST
    assert next_fire(weekly, datetime(2027, 3, 21, tzinfo=UTC)) == before
    assert next_fire(weekly, before) == after
