"""The triggers of the cron expressions in `schedules:`, read in the site's time zone. Their syntax
(5 fields, or 6 with seconds first; named days of the week) is `digest.config.cron_fields`, which
also checks them at start-up.

Daylight saving time: a run in the hour the clocks skip happens once, that much later (APScheduler
already does this). A run at a fixed hour in the hour the clocks repeat would happen twice with plain
CronTrigger; `SiteCronTrigger` keeps only the first. Schedules whose hour is `*` or `*/n` follow real
time, so they do run in both copies of the repeated hour, as with cron.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from apscheduler.triggers.cron import CronTrigger

from digest.config import cron_fields


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
    return SiteCronTrigger(**cron_fields(expression), timezone=timezone)
