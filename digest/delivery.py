"""Delivery: the per-recipient ledger of an edition, and the worker that works through it.

A row is marked sent only after the server accepted the message; a claim older than its lease
goes back to the queue, so a crashed worker loses nothing and repeats at most what was in flight.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session, selectinload

from digest.compose import freeze
from digest.config import Config
from digest.editions import EditionError, get_edition
from digest.message import EditionMessage, Recipient, site_links
from digest.models import Delivery, Edition, Item, Subscriber, utcnow
from digest.runtime import Runtime
from digest.transport import PermanentError, TransientError, Transport, make_transport

log = logging.getLogger(__name__)
MAX_RETRY_DELAY = timedelta(hours=1)


def start_sending(session: Session, config: Config, edition_id: int, now: datetime | None = None) -> int:
    """Freeze the edition and queue one delivery per active subscriber; return how many."""
    now = now or utcnow()
    edition = get_edition(session, edition_id)
    if edition.status not in ("draft", "scheduled"):
        raise EditionError(f"edition {edition_id} is {edition.status}; only a draft or scheduled edition can be sent")
    if not edition.entries:
        raise EditionError(f"edition {edition_id} has no items")
    freeze(config, edition, now)
    edition.status = "sending"
    recipients = select(literal(edition.id), Subscriber.id, literal("queued"), literal(0)).where(
        Subscriber.status == "active"
    )
    result = session.execute(
        insert(Delivery).from_select(["edition_id", "subscriber_id", "status", "attempts"], recipients)
    )
    edition.recipient_count = result.rowcount
    item_ids = [entry.item_id for entry in edition.entries]
    session.execute(update(Item).where(Item.id.in_(item_ids)).values(status="published"))
    if edition.recipient_count == 0:
        edition.status, edition.sent_at = "sent", now
    return edition.recipient_count


def release_due_editions(session: Session, config: Config, now: datetime) -> list[int]:
    """Start sending every scheduled edition whose time has come."""
    due = select(Edition.id).where(Edition.status == "scheduled", Edition.scheduled_at <= now)
    released = []
    for edition_id in session.scalars(due).all():
        try:
            with session.begin_nested():
                start_sending(session, config, edition_id, now)
        except Exception:  # one broken edition must not hold up the others: back to the editors
            log.exception("edition %s could not be sent at its scheduled time; it is a draft again", edition_id)
            edition = get_edition(session, edition_id)
            edition.status, edition.scheduled_at = "draft", None
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


def next_due_at(session: Session) -> datetime | None:
    """When the earliest queued delivery of a sending edition may be tried; None when nothing waits."""
    query = (
        select(func.min(func.coalesce(Delivery.next_attempt_at, Delivery.claimed_at)), func.count())
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Edition.status == "sending", Delivery.status.in_(("queued", "sending")))
    )
    earliest, waiting = session.execute(query).one()
    if not waiting:
        return None
    return earliest or utcnow()


def finish_editions(session: Session, now: datetime) -> list[int]:
    """Mark sent every sending edition whose ledger has nothing left to do."""
    unfinished = exists().where(Delivery.edition_id == Edition.id, Delivery.status.in_(("queued", "sending")))
    editions = list(session.scalars(select(Edition).where(Edition.status == "sending", ~unfinished)))
    for edition in editions:
        edition.status, edition.sent_at = "sent", now
    return [edition.id for edition in editions]


@dataclass
class WorkerStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    finished_editions: list[int] = field(default_factory=list)


class Worker:
    """Claims batches of deliveries and sends them through one transport."""

    def __init__(
        self,
        runtime: Runtime,
        transport: Transport | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.transport = transport or make_transport(runtime.config)
        self.clock = clock
        self._messages: dict[int, EditionMessage] = {}
        self.stats = WorkerStats()

    def run_once(self) -> int:
        """Claim and send one batch; return how many deliveries it handled."""
        settings = self.config.delivery
        with self.runtime.sessions() as session, session.begin():
            release_due_editions(session, self.config, self.clock())
        with self.runtime.sessions() as session, session.begin():
            ids = claim_batch(session, settings.batch_size, settings.lease_seconds, self.clock())
        for delivery_id in ids:
            self._deliver(delivery_id)
        with self.runtime.sessions() as session, session.begin():
            self.stats.finished_editions += finish_editions(session, self.clock())
        return len(ids)

    def drain(self, stop: threading.Event | None = None) -> WorkerStats:
        """Send until nothing is queued, waiting for retries that are not due yet."""
        stop = stop or threading.Event()
        while not stop.is_set():
            if self.run_once():
                continue
            with self.runtime.sessions() as session:
                due = next_due_at(session)
            if due is None:
                break
            stop.wait(max(0.05, min((due - self.clock()).total_seconds(), 5.0)))
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
        self.transport.close()

    def _deliver(self, delivery_id: int) -> None:
        with self.runtime.sessions() as session, session.begin():
            delivery = session.get(Delivery, delivery_id, options=[selectinload(Delivery.subscriber)])
            if delivery is None or delivery.status != "sending":
                return
            subscriber = delivery.subscriber
            if subscriber.status != "active":
                self._fail(delivery, f"not sent: subscriber is {subscriber.status}")
                return
            message = self._message_for(session, delivery.edition_id)
            recipient = Recipient(email=subscriber.email, name=subscriber.name, uid=subscriber.uid)
            self._send(session, delivery, message, recipient)

    def _send(self, session: Session, delivery: Delivery, message: EditionMessage, recipient: Recipient) -> None:
        try:
            payload = message.build(recipient, delivery.id)
            self.transport.send(message.envelope_sender, recipient.email, payload)
        except TransientError as error:
            self._retry(delivery, str(error))
            return
        except PermanentError as error:
            self._fail(delivery, str(error), bounced=error.hard_bounce)
            return
        delivery.status = "sent"
        delivery.sent_at = self.clock()
        delivery.message_id = message.message_id(delivery.id)
        delivery.last_error = None
        self.stats.sent += 1

    def _retry(self, delivery: Delivery, error: str) -> None:
        delivery.last_error = error
        if delivery.attempts >= self.config.delivery.max_attempts:
            self._fail(delivery, f"gave up after {delivery.attempts} attempts: {error}")
            return
        delay = timedelta(seconds=self.config.delivery.retry_seconds * 2 ** (delivery.attempts - 1))
        delivery.status = "queued"
        delivery.next_attempt_at = self.clock() + min(delay, MAX_RETRY_DELAY)
        self.stats.retried += 1

    def _fail(self, delivery: Delivery, error: str, bounced: bool = False) -> None:
        delivery.status = "bounced" if bounced else "failed"
        delivery.last_error = error
        if bounced:
            delivery.subscriber.status = "bounced"
        self.stats.failed += 1

    def _message_for(self, session: Session, edition_id: int) -> EditionMessage:
        if edition_id not in self._messages:
            edition = session.get(Edition, edition_id)
            assert edition is not None
            links = site_links(self.config.site.base_url, self.runtime.secret_key)
            self._messages[edition_id] = EditionMessage(
                edition, self.config.mail.from_address, self.config.site.name, links
            )
        return self._messages[edition_id]


def send_test(runtime: Runtime, edition_id: int, address: str, now: datetime | None = None) -> None:
    """Send the edition as it stands to one address, marked as a test; nothing is recorded."""
    transport = make_transport(runtime.config)
    try:
        with runtime.sessions() as session:
            edition = get_edition(session, edition_id)
            freeze(runtime.config, edition, now)
            links = site_links(runtime.config.site.base_url, runtime.secret_key)
            message = EditionMessage(edition, runtime.config.mail.from_address, runtime.config.site.name, links)
            session.rollback()  # a test send renders but never freezes the edition
        recipient = Recipient(email=address, name=None, uid="test-recipient")
        transport.send(message.envelope_sender, address, message.build(recipient, 0, subject_prefix="[TEST] "))
    finally:
        transport.close()
