"""When a job is due, and what becomes of runs that were missed (the scheduler was stopped, or busy).

The rules, per job (``scheduler.plan`` says which job follows which):

- ``CATCH_UP_ONCE`` (collect, send_scheduled, expire_calls, cleanup): every trigger time missed since the
  last run is folded into one run, done at once, on start.
- ``CATCH_UP_IF_WINDOW_OPEN`` (digest_assemble): likewise one run on start, but only while its window is
  still open: no digest has been scheduled, sent or cancelled since the missed trigger time. A draft made
  since is brought up to date, as assembling twice always does.
- A scheduled send missed by more than ``send_grace_hours`` is not sent; the edition goes back to the
  editors as a draft with a warning (decided per edition by the send_scheduled job, ``send_too_late``).

A job that has never run either runs at once on the first start (``runs_on_first_start``), or waits for
its first trigger time (the assembly: a scheduler started on a Wednesday does not make a digest).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Edition

ON_TIME = timedelta(minutes=1)  # later than this after its trigger time, a run counts as late
# Where to look for the latest trigger time before now: near first, so a per-second test schedule does
# not walk through a day of downtime, and far enough for any cron expression (at least yearly).
LOOK_BACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367))
CLOSING_STATUSES = ("scheduled", "sending", "paused", "sent", "cancelled")  # the editors are done with it


class Misfire(enum.Enum):
    CATCH_UP_ONCE = "missed runs are folded into one run, at once"
    CATCH_UP_IF_WINDOW_OPEN = "missed runs are folded into one run, at once, while the digest's window is open"


@dataclass(frozen=True)
class Due:
    fire: datetime  # the trigger time this run answers: the latest one passed
    missed: bool = False  # earlier trigger times since the last run were folded into this one
    first: bool = False  # the job has never run: its first-start run
    since: datetime | None = None  # the trigger time the job answered last

    def lateness(self, now: datetime) -> timedelta:
        return now - self.fire


def latest_fire(trigger: BaseTrigger, after: datetime, until: datetime) -> datetime | None:
    """The last trigger time in (after, until], or None."""
    for span in (*LOOK_BACK, None):
        start = after if span is None else max(after, until - span)
        latest, fire = None, trigger.get_next_fire_time(None, start)
        while fire is not None and fire <= until:
            if fire > after:
                latest = fire
            fire = trigger.get_next_fire_time(fire, fire)
        if latest is not None or start == after:
            return latest
    return None


def due(trigger: BaseTrigger, last: datetime, now: datetime) -> Due | None:
    """The run owed at ``now`` by a job that last answered the trigger time ``last`` (coalesced)."""
    fire = latest_fire(trigger, last, now)
    if fire is None:
        return None
    first_missed = trigger.get_next_fire_time(None, last)
    if first_missed is not None and first_missed <= last:
        first_missed = trigger.get_next_fire_time(first_missed, first_missed)
    return Due(fire=fire, missed=first_missed is not None and first_missed < fire, since=last)


def next_fire(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The next trigger time after ``now``."""
    fire = trigger.get_next_fire_time(None, now)
    if fire is not None and fire <= now:
        fire = trigger.get_next_fire_time(fire, fire)
    return fire


def describe(due_run: Due, now: datetime) -> str:
    """What a run answered, when it was not simply on time (for the run's record)."""
    if due_run.first:
        return "first start"
    late = due_run.lateness(now)
    if due_run.missed and due_run.since is not None:
        return f"caught up after {_duration(now - due_run.since)} without a run: the missed runs folded into one"
    if late > ON_TIME:
        return f"{_duration(late)} late (the scheduler was not running)"
    return ""


def window_closed_since(session: Session, fire: datetime) -> Edition | None:
    """The digest the editors have already committed to (scheduled, sent, cancelled…) since ``fire``: the
    window of the assembly due at ``fire`` is closed, and assembling again would make a second digest."""
    query = (
        select(Edition)
        .where(Edition.type == "digest", Edition.status.in_(CLOSING_STATUSES), Edition.window_end >= fire)
        .order_by(Edition.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def send_too_late(scheduled_at: datetime, now: datetime, grace_hours: float) -> bool:
    """A scheduled send whose time passed longer ago than the grace period is not sent automatically."""
    return now - scheduled_at > timedelta(hours=grace_hours)


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return f"{int(delta.total_seconds())} s"
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
