"""Delivery: the per-recipient ledger of an edition, and the worker that works through it.

A row is marked sent only after the server accepted the message; a claim older than its lease
goes back to the queue, so a crashed worker loses nothing and repeats at most what was in flight.
While a batch is out, the worker records outcomes every fraction of a second (so "in flight" is
a handful of messages, not the batch) and renews the lease of what it still holds.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, and_, bindparam, cast, exists, func, insert, literal, or_, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from digest.config import Config
from digest.delivery.dkim import make_signer
from digest.delivery.errors import PermanentError, TransientError
from digest.delivery.message import EditionMessage, Recipient, site_links
from digest.delivery.notices import edition_paused_notice, send_notice
from digest.delivery.transport import Transport, make_transport
from digest.editions.compose import freeze
from digest.editions.core import EditionError, get_edition
from digest.models import AuditEntry, Delivery, Edition, Editor, Item, Subscriber, utcnow
from digest.runtime import Runtime
from digest.submissions.notices import tell_submitters_after_commit
from digest.subscribers.preferences import topic_key

log = logging.getLogger(__name__)
MAX_RETRY_DELAY = timedelta(hours=1)
RECORD_EVERY = 100  # outcomes, or
RECORD_SECONDS = 0.25  # whichever comes first: what a crash can repeat is at most this much
FAILED_RESULTS = ("retry", "failed")  # what counts towards pausing an edition (not bounces, not skips)


# --------------------------------------------------------------------------- the ledger


def start_sending(session: Session, config: Config, edition_id: int, now: datetime | None = None) -> int:
    """Freeze the edition and queue one delivery per active subscriber who wants it; return how many.

    Who wants it is the rule of digest/subscribers/preferences.py: the edition's type is among their editions,
    and they chose no topics, or the edition has none, or they share one with its items.
    """
    now = now or utcnow()
    edition = get_edition(session, edition_id)
    if edition.status not in ("draft", "scheduled"):
        raise EditionError(f"edition {edition_id} is {edition.status}; only a draft or scheduled edition can be sent")
    if not edition.entries:
        raise EditionError(f"edition {edition_id} has no items")
    freeze(config, edition, now)
    edition.status = "sending"
    edition.failure_streak = 0
    recipients = select(literal(edition.id), Subscriber.id, literal("queued"), literal(0)).where(
        Subscriber.status == "active",
        Subscriber.wanted_editions.contains(f"|{edition.type}|", autoescape=True),
        _topic_match(edition_topic_keys(edition)),
    )
    session.execute(insert(Delivery).from_select(["edition_id", "subscriber_id", "status", "attempts"], recipients))
    # Counted, not taken from rowcount: some drivers report -1 for INSERT … SELECT.
    edition.recipient_count = session.scalar(select(func.count()).where(Delivery.edition_id == edition.id)) or 0
    item_ids = [entry.item_id for entry in edition.entries]
    session.execute(update(Item).where(Item.id.in_(item_ids)).values(status="published"))
    tell_submitters_after_commit(session, config)  # submitted items: "published" emails once this commits
    if edition.recipient_count == 0:
        edition.status, edition.sent_at = "sent", now
    return edition.recipient_count


def edition_topic_keys(edition: Edition) -> set[str]:
    """The topics of an edition: those of its items."""
    return {topic_key(topic) for entry in edition.entries for topic in (entry.item.topics or []) if topic_key(topic)}


def _topic_match(keys: Iterable[str]) -> ColumnElement[bool]:
    keys = sorted(keys)
    if not keys:
        return true()
    wanted = Subscriber.wanted_topics
    return or_(wanted == "", *[wanted.contains(f"|{key}|", autoescape=True) for key in keys])


def release_due_editions(session: Session, config: Config, now: datetime) -> list[int]:
    """Start sending every scheduled edition whose time has come."""
    due = select(Edition.id).where(Edition.status == "scheduled", Edition.scheduled_at <= now)
    released = []
    for edition_id in session.scalars(due).all():
        try:
            with session.begin_nested():
                start_sending(session, config, edition_id, now)
        except Exception as error:  # one broken edition must not hold up the others: back to the editors
            log.exception("edition %s could not be sent at its scheduled time; it is a draft again", edition_id)
            edition = get_edition(session, edition_id)
            edition.status, edition.scheduled_at = "draft", None
            edition.last_error = f"not sent at its scheduled time: {error}"
            continue
        released.append(edition_id)
    return released


def claim_batch(session: Session, batch_size: int, lease_seconds: int, now: datetime) -> list[int]:
    """Take up to batch_size due deliveries (queued, or claimed longer ago than the lease)."""
    stale_before = now - timedelta(seconds=lease_seconds)
    due = or_(
        and_(Delivery.status == "queued", or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)),
        and_(Delivery.status == "sending", Delivery.claimed_at < stale_before),
    )
    query = (
        select(Delivery.id)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Edition.status == "sending", due)
        .order_by(Delivery.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True, of=Delivery)
    )
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(status="sending", claimed_at=now, attempts=Delivery.attempts + 1)
        )
    return ids


@dataclass(frozen=True)
class Job:
    """One claimed delivery, with what sending it needs."""

    delivery_id: int
    edition_id: int
    attempts: int
    subscriber_id: int
    subscriber_status: str
    recipient: Recipient


def load_jobs(session: Session, delivery_ids: list[int]) -> list[Job]:
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.edition_id,
            Delivery.attempts,
            Subscriber.id,
            Subscriber.status,
            Subscriber.email,
            Subscriber.name,
            Subscriber.uid,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.id.in_(delivery_ids))
        .order_by(Delivery.id)
    )
    return [
        Job(delivery_id, edition_id, attempts, subscriber_id, status, Recipient(email=email, name=name, uid=uid))
        for delivery_id, edition_id, attempts, subscriber_id, status, email, name, uid in rows
    ]


def next_due_at(session: Session, lease_seconds: int) -> datetime | None:
    """When something of a sending edition may next be claimed; None when nothing waits."""
    active = and_(Edition.id == Delivery.edition_id, Edition.status == "sending")
    queued = session.execute(
        select(func.count(), func.count(Delivery.next_attempt_at), func.min(Delivery.next_attempt_at))
        .join(Edition, active)
        .where(Delivery.status == "queued")
    ).one()
    claimed = session.scalar(
        select(func.min(Delivery.claimed_at)).join(Edition, active).where(Delivery.status == "sending")
    )
    candidates = []
    if queued[0]:
        candidates.append(utcnow() if queued[0] > queued[1] else queued[2])  # some have no delay at all
    if claimed is not None:
        candidates.append(claimed + timedelta(seconds=lease_seconds))
    return min(candidates) if candidates else None


def finish_editions(session: Session, now: datetime) -> list[int]:
    """Mark sent every sending edition whose ledger has nothing left to do."""
    unfinished = exists().where(Delivery.edition_id == Edition.id, Delivery.status.in_(("queued", "sending")))
    editions = list(session.scalars(select(Edition).where(Edition.status == "sending", ~unfinished)))
    for edition in editions:
        edition.status, edition.sent_at = "sent", now
    return [edition.id for edition in editions]


def resume_edition(session: Session, edition_id: int, actor: str = "cli") -> Edition:
    """Send a paused edition again: its queued deliveries are due at once."""
    edition = get_edition(session, edition_id)
    if edition.status != "paused":
        raise EditionError(f"edition {edition_id} is {edition.status}; only a paused edition can be resumed")
    edition.status, edition.failure_streak, edition.last_error = "sending", 0, None
    session.execute(
        update(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status == "queued")
        .values(next_attempt_at=None)
    )
    session.add(AuditEntry(actor=actor, action="edition.resumed", target_type="edition", target_id=edition_id))
    return edition


# --------------------------------------------------------------------------- the worker


@dataclass(frozen=True)
class Outcome:
    job: Job
    result: str  # sent | retry | failed | bounced | skipped | released
    error: str | None = None


@dataclass
class WorkerStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    finished_editions: list[int] = field(default_factory=list)
    paused_editions: list[int] = field(default_factory=list)


class Worker:
    """Claims batches of deliveries and sends them through one transport, `parallelism` at a time."""

    def __init__(
        self,
        runtime: Runtime,
        transport: Transport | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.transport = transport or make_transport(runtime.config)
        self.sign = make_signer(runtime.config)
        self.clock = clock
        self.stats = WorkerStats()
        self._messages: dict[int, EditionMessage | None] = {}
        # Failures in a row per edition within the current batch: at the pause threshold the rest of the
        # batch goes back to the queue untried, without waiting for the ledger to say "paused".
        self._batch_streaks: dict[int, int] = {}
        self._streak_lock = threading.Lock()
        self._work: queue.SimpleQueue[tuple[Job, EditionMessage | None, queue.SimpleQueue[Outcome]] | None] = (
            queue.SimpleQueue()
        )
        self._senders = [
            threading.Thread(target=self._sender, name=f"send-{n}", daemon=True)
            for n in range(max(1, self.transport.parallelism))
        ]
        for sender in self._senders:
            sender.start()

    @property
    def claim_size(self) -> int:
        """The batch size, kept small enough to send well within the lease at the rate limit."""
        settings, rate = self.config.delivery, self.config.mail.smtp.rate_per_second
        if self.config.mail.transport == "smtp" and rate > 0:
            return max(1, min(settings.batch_size, int(rate * settings.lease_seconds / 2)))
        return settings.batch_size

    def run_once(self) -> int:
        """Claim and send one batch; return how many deliveries it handled."""
        settings = self.config.delivery  # scheduled editions are released by the scheduler (scheduler/jobs.py)
        with self.runtime.sessions() as session, session.begin():
            jobs = load_jobs(session, claim_batch(session, self.claim_size, settings.lease_seconds, self.clock()))
            messages = self._messages_for(session, {job.edition_id for job in jobs})
        if jobs:
            self._send_batch(jobs, messages)
        with self.runtime.sessions() as session, session.begin():
            self.stats.finished_editions += finish_editions(session, self.clock())
        return len(jobs)

    def drain(self, stop: threading.Event | None = None) -> WorkerStats:
        """Send until nothing is queued, waiting for retries (and stale claims) that are not due yet."""
        stop = stop or threading.Event()
        while not stop.is_set():
            if self.run_once():
                continue
            with self.runtime.sessions() as session:
                due = next_due_at(session, self.config.delivery.lease_seconds)
            if due is None:
                break
            stop.wait(max(0.05, min((due - self.clock()).total_seconds(), 1.0)))
        return self.stats

    def serve(self, stop: threading.Event, poll_seconds: float = 2.0) -> None:
        """Wait for work until stopped (the long-running `digest worker`)."""
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # a database hiccup must not kill the long-running worker
                log.exception("delivery worker: batch failed; retrying shortly")
                handled = 0
            if not handled:
                stop.wait(poll_seconds)

    def close(self) -> None:
        for _ in self._senders:
            self._work.put(None)
        for sender in self._senders:
            sender.join()
        self.transport.close()

    # ---- one batch

    def _send_batch(self, jobs: list[Job], messages: dict[int, EditionMessage | None]) -> None:
        self._batch_streaks.clear()
        results: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        for job in jobs:
            self._work.put((job, messages.get(job.edition_id), results))
        lease = self.config.delivery.lease_seconds
        unrecorded = {job.delivery_id for job in jobs}
        outcomes: list[Outcome] = []
        last_record = last_renewal = time.monotonic()
        while unrecorded:
            with contextlib.suppress(queue.Empty):
                outcomes.append(results.get(timeout=RECORD_SECONDS))
            now = time.monotonic()
            failing = bool(outcomes) and outcomes[-1].result in FAILED_RESULTS  # may pause: write it at once
            if failing or len(outcomes) in (RECORD_EVERY, len(unrecorded)) or now - last_record >= RECORD_SECONDS:
                self._record(outcomes)
                unrecorded -= {outcome.job.delivery_id for outcome in outcomes}
                outcomes, last_record = [], now
            if unrecorded and now - last_renewal >= lease / 3:
                self._renew(unrecorded)
                last_renewal = now

    def _sender(self) -> None:
        """A sending thread: one per connection the transport may hold."""
        while (work := self._work.get()) is not None:
            job, message, results = work
            results.put(self._attempt(job, message))

    def _attempt(self, job: Job, message: EditionMessage | None) -> Outcome:
        """Runs in a sending thread: build and send one message, never raise."""
        threshold = self.config.delivery.pause_after_failures
        with self._streak_lock:
            if self._batch_streaks.get(job.edition_id, 0) >= threshold:
                return Outcome(job, "released")
        outcome = self._try(job, message)
        if outcome.result in (*FAILED_RESULTS, "sent"):
            with self._streak_lock:
                failures = self._batch_streaks.get(job.edition_id, 0) + 1 if outcome.result != "sent" else 0
                self._batch_streaks[job.edition_id] = failures
        return outcome

    def _try(self, job: Job, message: EditionMessage | None) -> Outcome:
        if job.subscriber_status != "active":
            return Outcome(job, "skipped", f"not sent: subscriber is {job.subscriber_status}")
        if message is None:
            return Outcome(job, "retry", f"edition {job.edition_id} has no frozen message")
        try:
            self.transport.send(
                message.envelope_sender, job.recipient.email, message.build(job.recipient, job.delivery_id)
            )
        except TransientError as error:
            return Outcome(job, "retry", str(error))
        except PermanentError as error:
            return Outcome(job, "bounced" if error.hard_bounce else "failed", str(error))
        except Exception as error:  # a bug must not kill the thread; it counts as a failure and may pause
            log.exception("delivery %s: unexpected error", job.delivery_id)
            return Outcome(job, "retry", f"unexpected error: {type(error).__name__}: {error}")
        return Outcome(job, "sent")

    def _record(self, outcomes: list[Outcome]) -> None:
        """Write a group of outcomes in one transaction; pause editions that keep failing."""
        if not outcomes:
            return
        now = self.clock()
        rows = [self._ledger_row(outcome, now) for outcome in outcomes]
        sent = [row for row in rows if row["b_status"] == "sent"]
        others = [row for row in rows if row["b_status"] != "sent"]
        table = Delivery.__table__
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.status == "sending")
            .values(
                status=bindparam("b_status"),
                attempts=bindparam("b_attempts"),
                last_error=bindparam("b_error"),
                next_attempt_at=bindparam("b_next"),
                sent_at=bindparam("b_sent_at"),
                message_id=bindparam("b_message_id"),
            )
        )
        bounced = [o.job.subscriber_id for o in outcomes if o.result == "bounced"]
        with self.runtime.sessions() as session, session.begin():
            self._record_sent(session, sent, now)
            if others:
                session.connection().execute(statement, others)
            if bounced:
                session.execute(
                    update(Subscriber)
                    .where(Subscriber.id.in_(bounced), Subscriber.status == "active")
                    .values(status="bounced")
                )
            paused = self._update_streaks(session, outcomes)
        for row in rows:
            self.stats.sent += row["b_status"] == "sent"
            self.stats.retried += row["b_status"] == "queued" and row["b_next"] is not None
            self.stats.failed += row["b_status"] in ("failed", "bounced")
        for edition_id, reason in paused:
            self._tell_editors(edition_id, reason)

    def _record_sent(self, session: Session, rows: list[dict], now: datetime) -> None:
        """The common case in one UPDATE per edition (not one per row); Message-ID built by the database
        the way digest/delivery/message.py builds it."""
        by_edition: dict[int, list[int]] = {}
        for row in rows:
            by_edition.setdefault(row["b_edition"], []).append(row["b_id"])
        for edition_id, ids in by_edition.items():
            prefix, suffix = self._messages[edition_id].message_id_parts()
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids), Delivery.status == "sending")
                .values(
                    status="sent",
                    sent_at=now,
                    last_error=None,
                    message_id=literal(prefix) + cast(Delivery.id, String) + literal(suffix),
                )
            )

    def _ledger_row(self, outcome: Outcome, now: datetime) -> dict:
        """The ledger's new values for one outcome (sent rows are written by _record_sent)."""
        job, result = outcome.job, outcome.result
        row = {
            "b_id": job.delivery_id,
            "b_edition": job.edition_id,
            "b_status": result,
            "b_attempts": job.attempts,
            "b_error": outcome.error,
            "b_next": None,
            "b_sent_at": None,
            "b_message_id": None,
        }
        if result == "released":  # never tried: back to the queue as it was
            row |= {"b_status": "queued", "b_attempts": job.attempts - 1}
        elif result == "skipped":
            row["b_status"] = "failed"
        elif result == "retry" and job.attempts >= self.config.delivery.max_attempts:
            row |= {"b_status": "failed", "b_error": f"gave up after {job.attempts} attempts: {outcome.error}"}
        elif result == "retry":
            delay = timedelta(seconds=self.config.delivery.retry_seconds * 2 ** (job.attempts - 1))
            row |= {"b_status": "queued", "b_next": now + min(delay, MAX_RETRY_DELAY)}
        return row

    def _update_streaks(self, session: Session, outcomes: list[Outcome]) -> list[tuple[int, str]]:
        """Track failures in a row per edition; pause (once, whoever gets there) at the threshold."""
        threshold = self.config.delivery.pause_after_failures
        by_edition: dict[int, list[Outcome]] = {}
        for outcome in outcomes:
            if outcome.result in (*FAILED_RESULTS, "sent"):
                by_edition.setdefault(outcome.job.edition_id, []).append(outcome)
        paused = []
        for edition_id, results in by_edition.items():
            trailing = 0
            for outcome in reversed(results):
                if outcome.result == "sent":
                    break
                trailing += 1
            if not trailing:  # the streak is broken (written only when there was one)
                session.execute(
                    update(Edition)
                    .where(Edition.id == edition_id, Edition.failure_streak != 0)
                    .values(failure_streak=0)
                )
                continue
            streak = Edition.failure_streak + trailing if trailing == len(results) else literal(trailing)
            session.execute(update(Edition).where(Edition.id == edition_id).values(failure_streak=streak))
            reason = f"{threshold} deliveries in a row failed; the last: {results[-1].error}"
            pause = (
                update(Edition)
                .where(Edition.id == edition_id, Edition.status == "sending", Edition.failure_streak >= threshold)
                .values(status="paused", last_error=reason)
            )
            if session.execute(pause).rowcount:
                session.add(
                    AuditEntry(
                        actor="system",
                        action="edition.paused",
                        target_type="edition",
                        target_id=edition_id,
                        detail={"reason": reason},
                    )
                )
                self.stats.paused_editions.append(edition_id)
                paused.append((edition_id, reason))
        return paused

    def _renew(self, delivery_ids: set[int]) -> None:
        with self.runtime.sessions() as session, session.begin():
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(sorted(delivery_ids)), Delivery.status == "sending")
                .values(claimed_at=self.clock())
            )

    def _tell_editors(self, edition_id: int, reason: str) -> None:
        log.error("edition %s paused: %s", edition_id, reason)
        with self.runtime.sessions() as session:
            edition = session.get(Edition, edition_id)
            admins = list(session.scalars(select(Editor.email).where(Editor.role == "admin").order_by(Editor.id)))
        for address in admins:
            notice = edition_paused_notice(self.config.site.name, address, edition.title, edition_id, reason)
            try:
                send_notice(self.transport, self.config, notice, self.sign)
            except Exception as error:  # the alert shares the failing server; last_error still tells
                log.error("could not tell %s that edition %s paused: %s", address, edition_id, error)

    def _messages_for(self, session: Session, edition_ids: set[int]) -> dict[int, EditionMessage | None]:
        """The built message of each edition (built once per edition and worker, then kept)."""
        for edition_id in edition_ids - self._messages.keys():
            edition = session.get(Edition, edition_id)
            self._messages[edition_id] = self._message(edition) if edition and edition.html else None
        for stale in list(self._messages.keys() - edition_ids)[: max(0, len(self._messages) - 8)]:
            del self._messages[stale]
        return {edition_id: self._messages[edition_id] for edition_id in edition_ids}

    def _message(self, edition: Edition, subject_prefix: str = "") -> EditionMessage:
        return EditionMessage(
            edition,
            self.config.mail.from_address,
            self.config.site.name,
            site_links(self.config.site.base_url, self.runtime.secret_key),
            subject_prefix=subject_prefix,
            sign=self.sign,
        )


def send_test(runtime: Runtime, edition_id: int, address: str, now: datetime | None = None) -> None:
    """Send the edition as it stands to one address, marked as a test; nothing is recorded."""
    config = runtime.config
    transport = make_transport(config)
    try:
        with runtime.sessions() as session:
            edition = get_edition(session, edition_id)
            freeze(config, edition, now)
            links = site_links(config.site.base_url, runtime.secret_key)
            message = EditionMessage(
                edition, config.mail.from_address, config.site.name, links, "[TEST] ", make_signer(config)
            )
            session.rollback()  # a test send renders but never freezes the edition
        recipient = Recipient(email=address, name=None, uid="test-recipient")
        transport.send(message.envelope_sender, address, message.build(recipient, 0))
    finally:
        transport.close()
