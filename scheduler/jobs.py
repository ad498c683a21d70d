"""What each scheduled job does. Every job takes the time explicitly (``now``, and ``fire``: the trigger
time the run answers) and is idempotent, so a job run twice does no harm:

- collect: only sources that are due (each source's own next-fetch time, so backoff is respected);
- digest_assemble: the digest's window key finds the same draft again; a window the editors have
  committed to (scheduled, sent, cancelled) is left alone;
- send_scheduled: an edition is released only while it is "scheduled", under a row lock;
- expire_calls, cleanup: conditional updates and deletions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from digest import audit
from digest.config import Config
from digest.delivery.sending import start
from digest.editions.assembly import assemble_digest
from digest.editions.core import add_warnings, get_edition, item_titles
from digest.editions.lifecycle import schedule
from digest.models import Delivery, Edition, Item
from digest.runtime import Runtime
from scheduler import notices, runs
from scheduler.notices import EditorMessage, EditorNotifier, local
from scheduler.policy import send_too_late, window_closed_since

log = logging.getLogger(__name__)
JOB_HISTORY = timedelta(days=30)  # runs older than this are pruned by the cleanup job
OUTBOX_SUFFIXES = (".eml", ".tmp")
SCHEDULER = audit.Actor("scheduler")  # who the audit trail names for what the scheduler does


@dataclass(frozen=True)
class Result:
    outcome: str  # ok | skipped | error
    detail: str


@dataclass
class JobContext:
    runtime: Runtime
    send_trigger: BaseTrigger  # schedules.digest_send: when an assembled digest goes out on its own
    notifier: EditorNotifier

    @property
    def config(self) -> Config:
        return self.runtime.config


Job = Callable[[JobContext, datetime, datetime], Result]


# --------------------------------------------------------------------------- collect


def collect_sources(context: JobContext, now: datetime, fire: datetime) -> Result:
    from sources.collector import collect

    results = collect(context.runtime, due_only=True, now=now)
    if not results:
        return Result("ok", "no source due")
    new = sum(result.new for result in results)
    failed = [result.source for result in results if result.status == "error"]
    detail = f"{len(results)} source{'s' if len(results) != 1 else ''} fetched, {new} new item{'s' if new != 1 else ''}"
    if failed:
        detail += f"; {len(failed)} failed ({', '.join(failed[:5])}{'…' if len(failed) > 5 else ''}), retried later"
    return Result("ok", detail)


# --------------------------------------------------------------------------- the weekly digest


def assemble_weekly_digest(context: JobContext, now: datetime, fire: datetime) -> Result:
    config = context.config
    message: EditorMessage | None = None
    with context.runtime.sessions() as session, session.begin():
        closed = window_closed_since(session, fire)
        if closed is not None:
            return Result("skipped", f"this window's digest (edition {closed.id}) is already {closed.status}")
        assembly = assemble_digest(session, config.site.timezone, now=now)
        edition = assembly.edition
        if edition is None:
            return Result("skipped", assembly.message)
        if edition.status != "draft":
            return Result("skipped", assembly.message)
        summary = f"{assembly.message} ({len(edition.entries)} items)"
        send_at, reason = _automatic_send(context, edition, fire, now)
        if send_at is not None:  # scheduled as of `fire`: a late run may schedule a time just passed
            schedule(session, SCHEDULER, edition.id, send_at, now=fire, by="schedules.digest_auto_send")
            plan = f"scheduled for {local(config, send_at)}"
        else:
            message = notices.draft_ready(config, edition, fire, reason)
            plan = "left as a draft for the editors"
    told = context.notifier.tell(message) if message else ""
    return Result("ok", "; ".join(part for part in (summary, plan, told) if part))


def _automatic_send(
    context: JobContext, edition: Edition, fire: datetime, now: datetime
) -> tuple[datetime | None, str]:
    """When the assembled digest goes out by itself, or None and why not."""
    schedules = context.config.schedules
    if not schedules.digest_auto_send:
        return None, "Automatic sending is off (schedules.digest_auto_send), so it goes out when an editor sends it."
    if edition.held:
        return None, "An editor has held it, so it is not sent automatically."
    send_at = context.send_trigger.get_next_fire_time(None, fire)
    if send_at is None:
        return None, "No sending time follows the assembly (schedules.digest_send), so an editor sends it."
    if send_too_late(send_at, now, schedules.send_grace_hours):
        return None, (
            f"It was assembled late (the scheduler was not running) and its sending time, "
            f"{local(context.config, send_at)}, passed more than {schedules.send_grace_hours:g} hours ago, "
            "so it is not sent automatically."
        )
    return send_at, ""


# --------------------------------------------------------------------------- scheduled sends


def send_scheduled(context: JobContext, now: datetime, fire: datetime) -> Result:
    """Start sending every scheduled edition whose time has come; those missed beyond the grace period,
    held by an editor, or failing to render go back to the editors as drafts."""
    with context.runtime.sessions() as session:
        due = select(Edition.id).where(Edition.status == "scheduled", Edition.scheduled_at <= now)
        edition_ids = list(session.scalars(due.order_by(Edition.scheduled_at, Edition.id)))
    lines, failed = [], False
    for edition_id in edition_ids:
        release = _release(context.runtime, edition_id, now)
        failed = failed or release.failed
        lines += [release.line] if release.line else []
        if release.message is not None:
            lines.append(context.notifier.tell(release.message))
    return Result("error" if failed else "ok", "; ".join(lines) or "no edition due")


@dataclass(frozen=True)
class _Release:
    line: str = ""  # what happened, for the run's record ("": an editor changed the edition meanwhile)
    message: EditorMessage | None = None  # for the editors
    failed: bool = False


def _release(runtime: Runtime, edition_id: int, now: datetime) -> _Release:
    """One edition, in a transaction of its own: one that cannot be sent must not hold up the others."""
    config = runtime.config
    try:
        with runtime.sessions() as session, session.begin():
            if not _claim(session, edition_id, now):
                return _Release()
            edition = get_edition(session, edition_id)
            decided = _not_sent_automatically(session, config, edition, now)
            if decided is not None:
                return decided
            queued = start(session, config, SCHEDULER, edition_id, now, action="edition.released")
        return _Release(f"edition {edition_id} is sending to {queued} subscriber{'s' if queued != 1 else ''}")
    except SQLAlchemyError:  # the database's trouble, not the edition's: it stays scheduled, the next run retries
        raise
    except Exception as error:  # a broken edition (a template error, nothing left to send): back to the editors
        log.exception("edition %s could not be sent at its scheduled time", edition_id)
        with runtime.sessions() as session, session.begin():
            edition = get_edition(session, edition_id)
            scheduled_at = edition.scheduled_at or now
            _back_to_draft(edition, f"Not sent at its scheduled time: {error}", error=f"not sent: {error}")
            message = notices.send_failed(config, edition, scheduled_at, str(error))
        said = str(error) if str(error).startswith(f"edition {edition_id} ") else f"edition {edition_id}: {error}"
        return _Release(said, message, failed=True)


def _claim(session: Session, edition_id: int, now: datetime) -> bool:
    """Lock the edition while it is still scheduled and due (an editor may have changed it meanwhile). A write
    first: the row lock on PostgreSQL, and on SQLite the write lock before anything is read."""
    claimed = session.execute(
        update(Edition)
        .where(Edition.id == edition_id, Edition.status == "scheduled", Edition.scheduled_at <= now)
        .values(status="scheduled")
    )
    return claimed.rowcount == 1


def _not_sent_automatically(session: Session, config: Config, edition: Edition, now: datetime) -> _Release | None:
    """A held edition, or one whose time passed beyond the grace period, goes back to the editors."""
    scheduled_at = edition.scheduled_at
    assert scheduled_at is not None
    if edition.held:
        _back_to_draft(edition, f"Held by an editor: not sent automatically at {local(config, scheduled_at)}.")
        return _Release(f"edition {edition.id} is held: back to draft")
    if not send_too_late(scheduled_at, now, config.schedules.send_grace_hours):
        return None
    hours = (now - scheduled_at).total_seconds() / 3600
    reason = (
        f"Not sent: its time, {local(config, scheduled_at)}, passed {hours:.1f} hours ago while no scheduler "
        f"was running, more than the {config.schedules.send_grace_hours:g}-hour grace period. "
        "Send it by hand or schedule it again."
    )
    _back_to_draft(edition, reason, error=reason)
    audit.record(
        session, SCHEDULER, "edition.send_missed", "edition", edition.id, {"scheduled_at": scheduled_at.isoformat()}
    )
    line = f"edition {edition.id} missed its time by {hours:.1f} h: back to the editors"
    return _Release(line, notices.send_missed(config, edition, scheduled_at, now))


def _back_to_draft(edition: Edition, warning: str, error: str | None = None) -> None:
    edition.status, edition.scheduled_at = "draft", None
    add_warnings(edition, [warning])
    if error is not None:
        edition.last_error = error


# --------------------------------------------------------------------------- housekeeping


def expire_calls(context: JobContext, now: datetime, fire: datetime) -> Result:
    """Open calls (pending or approved) whose deadline has passed are marked expired."""
    with context.runtime.sessions() as session, session.begin():
        lapsed = list(
            session.scalars(
                select(Item)
                .where(Item.kind == "call", Item.status.in_(("pending", "approved")), Item.deadline < now)
                .order_by(Item.deadline, Item.id)
            )
        )
        for item in lapsed:
            item.status = "expired"
        if not lapsed:
            return Result("ok", "no open call past its deadline")
        return Result(
            "ok",
            f"{len(lapsed)} call{'s' if len(lapsed) != 1 else ''} past the deadline expired: {item_titles(lapsed)}",
        )


def clean_up(context: JobContext, now: datetime, fire: datetime) -> Result:
    """Old outbox files, delivery claims abandoned by a dead worker, and old run records."""
    config = context.config
    removed = remove_old_outbox_files(config.outbox_dir, now - timedelta(days=config.schedules.outbox_keep_days))
    with context.runtime.sessions() as session, session.begin():
        returned = return_stale_claims(session, now - timedelta(seconds=2 * config.delivery.lease_seconds))
        pruned = runs.prune(session, now, JOB_HISTORY)
    return Result(
        "ok",
        f"{removed} outbox file{'s' if removed != 1 else ''} older than {config.schedules.outbox_keep_days:g} days "
        f"removed; {returned} stale delivery claim{'s' if returned != 1 else ''} back in the queue; "
        f"{pruned} old run record{'s' if pruned != 1 else ''} pruned",
    )


def process_bounces(context: JobContext, now: datetime, fire: datetime) -> Result:
    """Read the bounce mailbox (bounces.mailbox) and record its reports (digest.bounces.processing)."""
    from digest.bounces.processing import process_mailbox

    run = process_mailbox(context.runtime, SCHEDULER)
    return Result("ok", run.summary)


def remove_old_outbox_files(folder: Path, older_than: datetime) -> int:
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if path.suffix not in OUTBOX_SUFFIXES or not path.is_file():
            continue
        if datetime.fromtimestamp(path.stat().st_mtime, UTC) < older_than:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def return_stale_claims(session: Session, claimed_before: datetime) -> int:
    """Deliveries a worker claimed and never finished (it died): queued again, as a worker's own reclaim does."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.status == "sending", Delivery.claimed_at < claimed_before)
        .values(status="queued", claimed_at=None)
    )
    return result.rowcount or 0
