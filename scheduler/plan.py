"""The jobs, in the order they run when several are due at once, each with its schedule from
``schedules:`` (read in ``site.timezone``) and its misfire rule (see ``scheduler.policy``)."""

from __future__ import annotations

from dataclasses import dataclass

from digest.config import Config
from scheduler import jobs
from scheduler.cron import SiteCronTrigger, cron_trigger
from scheduler.policy import Misfire

ASSEMBLY_ADVICE = "Once the cause is fixed, assemble it by hand with `digest edition create --type digest`."


@dataclass(frozen=True)
class JobSpec:
    name: str  # also the APScheduler job id and JobRun.job
    label: str
    schedule: str  # the cron expression, as configured
    trigger: SiteCronTrigger
    run: jobs.Job
    misfire: Misfire
    runs_on_first_start: bool  # False: the first start waits for the first trigger time
    error_advice: str | None = None  # set: a failure is emailed to the editors, with this advice


def job_specs(config: Config) -> list[JobSpec]:
    schedules, zone = config.schedules, config.site.timezone

    def spec(
        name: str, label: str, schedule: str, run: jobs.Job, misfire: Misfire, first: bool = True, advice: str = ""
    ) -> JobSpec:
        return JobSpec(name, label, schedule, cron_trigger(schedule, zone), run, misfire, first, advice or None)

    bounces = [
        spec("bounces", "Read the bounce mailbox", schedules.bounces, jobs.process_bounces, Misfire.CATCH_UP_ONCE)
    ]
    return [
        spec("collect", "Collect due sources", schedules.collect, jobs.collect_sources, Misfire.CATCH_UP_ONCE),
        spec("expire_calls", "Expire lapsed calls", schedules.expire_calls, jobs.expire_calls, Misfire.CATCH_UP_ONCE),
        spec(
            "digest_assemble",
            "Assemble the weekly digest",
            schedules.digest_assemble,
            jobs.assemble_weekly_digest,
            Misfire.CATCH_UP_IF_WINDOW_OPEN,
            first=False,
            advice=ASSEMBLY_ADVICE,
        ),
        spec(
            "send_scheduled",
            "Send scheduled editions",
            schedules.send_scheduled,
            jobs.send_scheduled,
            Misfire.CATCH_UP_ONCE,
        ),
        spec("cleanup", "Clean up", schedules.cleanup, jobs.clean_up, Misfire.CATCH_UP_ONCE),
        *(bounces if config.bounces.mailbox else []),  # only with a mailbox to read
    ]


def send_trigger(config: Config) -> SiteCronTrigger:
    return cron_trigger(config.schedules.digest_send, config.site.timezone)
