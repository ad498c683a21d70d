"""Cron expressions for `schedules:`, read in the site's time zone.

Five fields as in crontab (minute hour day month day-of-week), or six with seconds first (for short
test schedules). Days of the week are named (mon, tue, …, or ranges such as mon-fri): APScheduler 3
counts 0 as Monday where crontab counts it as Sunday, so a number there would silently pick the wrong
day and is refused instead.

Daylight saving time: a run in the hour the clocks skip happens once, that much later (APScheduler
already does this). A run at a fixed hour in the hour the clocks repeat would happen twice with plain
CronTrigger; `SiteCronTrigger` keeps only the first. Schedules whose hour is `*` or `*/n` follow real
time, so they do run in both copies of the repeated hour, as with cron.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from apscheduler.triggers.cron import CronTrigger

FIELDS_WITH_SECONDS = ("second", "minute", "hour", "day", "month", "day_of_week")


class SiteCronTrigger(CronTrigger):
    """A CronTrigger that runs a fixed-hour schedule once when the clocks go back."""

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        fire = super().get_next_fire_time(previous_fire_time, now)
        while fire is not None and self._second_copy_of_wall_time(fire):
            fire = super().get_next_fire_time(fire, fire)
        return fire

    def _second_copy_of_wall_time(self, fire: datetime) -> bool:
        if fire.fold != 1 or fire.replace(fold=0).utcoffset() == fire.utcoffset():
            return False
        hour = next(field for field in self.fields if field.name == "hour")
        return not str(hour).startswith("*")


def cron_trigger(expression: str, timezone: str | tzinfo) -> SiteCronTrigger:
    """The trigger for a schedule; ValueError says what is wrong with the expression."""
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    elif len(fields) != 6:
        raise ValueError(
            f"expected 5 fields (minute hour day month day-of-week), or 6 with seconds first; got {len(fields)}"
        )
    values = dict(zip(FIELDS_WITH_SECONDS, fields, strict=True))
    if any(character.isdigit() for character in values["day_of_week"]):
        raise ValueError("name the days of the week (mon, tue, … sun, or a range such as mon-fri), not numbers")
    return SiteCronTrigger(**values, timezone=timezone)
