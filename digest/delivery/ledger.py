"""The delivery ledger: one row per recipient of an edition, and every change to it.

``start_sending`` freezes an edition and queues its deliveries; the worker then claims batches
(``claim_batch``, ``load_jobs``), records what happened to each message, and marks editions sent when
nothing is left (``finish_editions``). A claim older than its lease goes back to the queue, so a
crashed worker loses nothing. ``LedgerStore`` is the SQLAlchemy implementation of the worker's Store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Integer,
    String,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement, Select, Update

from digest import audit
from digest.config import Config, DeliveryConfig
from digest.delivery.message import Recipient
from digest.delivery.recipients import receives
from digest.editions.core import EditionError, get_edition
from digest.models import Delivery, Edition, EditionRendering, Editor, Item, Subscriber, utcnow
from digest.stamp import mark_archive_changed

MAX_RETRY_DELAY = timedelta(hours=1)
FAILED_RESULTS = ("retry", "failed")  # what counts towards pausing an edition (not bounces, not skips)


def start_sending(session: Session, config: Config, edition_id: int, now: datetime | None = None) -> int:
    """Freeze the edition and queue one delivery per subscriber who receives it (digest.delivery.recipients);
    return how many."""
    # Imported here: the worker, which imports this module, never renders nor tells submitters.
    from digest.editions.compose import freeze
    from digest.submissions.notices import tell_submitters_after_commit

    now = now or utcnow()
    edition = get_edition(session, edition_id)
    if edition.status not in ("draft", "scheduled"):
        raise EditionError(f"edition {edition_id} is {edition.status}; only a draft or scheduled edition can be sent")
    if not edition.entries:
        raise EditionError(f"edition {edition_id} has no items")
    languages = session.scalars(select(Subscriber.language).where(receives(edition)).distinct())
    freeze(config, edition, now, languages=list(languages))  # once per language the recipients read
    edition.status = "sending"
    edition.failure_streak = 0
    recipients = select(literal(edition.id), Subscriber.id, literal("queued"), literal(0)).where(receives(edition))
    session.execute(insert(Delivery).from_select(["edition_id", "subscriber_id", "status", "attempts"], recipients))
    # Counted, not taken from rowcount: some drivers report -1 for INSERT … SELECT.
    edition.recipient_count = session.scalar(select(func.count()).where(Delivery.edition_id == edition.id)) or 0
    item_ids = [entry.item_id for entry in edition.entries]
    session.execute(update(Item).where(Item.id.in_(item_ids)).values(status="published"))
    tell_submitters_after_commit(session, config)  # submitted items: "published" emails once this commits
    if edition.recipient_count == 0:
        edition.status, edition.sent_at = "sent", now
        mark_archive_changed(session)  # the archive's kept pages, in every process, go stale when this commits
    return edition.recipient_count


def claim_batch(session: Session, batch_size: int, lease_seconds: int, now: datetime) -> list[int]:
    """Take up to batch_size due deliveries: claims older than the lease first (a crashed worker's), then
    queued ones. Two statements, not one with OR: each walks its own partial index (migration 0004) and stops
    at the batch size, where the OR scanned the whole table as it filled with sent rows."""
    # On the session's connection: Core statements, without the ORM's bookkeeping of an UPDATE it would try
    # to match with objects in the session (there are none: the worker loads no Delivery objects).
    connection = session.connection()
    ids = connection.scalars(
        claim_statement(due_query(batch_size, Delivery.claimed_at, *stale_claims(now, lease_seconds)), now)
    ).all()
    if len(ids) < batch_size:
        ids += connection.scalars(
            claim_statement(due_query(batch_size - len(ids), Delivery.id, *queued_due(now)), now)
        ).all()  # fetched at once, not a call per row
    return sorted(ids)


def claim_statement(due: Select[tuple[int]], now: datetime) -> Update:
    """Mark the `due` deliveries claimed and return their ids, in one statement. Choosing and marking at once
    is what keeps two workers apart on SQLite too: the statement waits for the write lock and then chooses
    among the rows still due, where a SELECT before the UPDATE chose from what it read before another
    worker's claim committed, and both sent the same rows. (On PostgreSQL the choice skips the rows another
    claim holds: SKIP LOCKED.)"""
    return (
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(status="sending", claimed_at=now, attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    )


def stale_claims(now: datetime, lease_seconds: int) -> tuple[ColumnElement[bool], ...]:
    """Claimed longer ago than the lease: the worker that claimed them is gone (ix_deliveries_sending)."""
    return Delivery.status == "sending", Delivery.claimed_at < now - timedelta(seconds=lease_seconds)


def queued_due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Queued, and not waiting for a retry later than now (ix_deliveries_queued)."""
    return Delivery.status == "queued", or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)


def due_query(limit: int, order: ColumnElement[Any], *conditions: ColumnElement[bool]) -> Select[tuple[int]]:
    """Deliveries of sending editions that meet `conditions`, in the order of their index (`order`: the
    oldest first), locked for this claim."""
    return (
        select(Delivery.id)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(*conditions, Edition.status == "sending")
        .order_by(order)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Delivery)
    )


@dataclass(frozen=True)
class Job:
    """One claimed delivery, with what sending it needs."""

    delivery_id: int
    edition_id: int
    attempts: int
    subscriber_id: int
    subscriber_status: str
    recipient: Recipient
    language: str = ""  # the subscriber's, as stored (the worker picks the edition's rendering by it)


_JOBS = (
    select(
        Delivery.id,
        Delivery.edition_id,
        Delivery.attempts,
        Subscriber.id,
        Subscriber.status,
        Subscriber.email,
        Subscriber.name,
        Subscriber.uid,
        Subscriber.language,
    )
    .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
    .where(Delivery.id.in_(bindparam("delivery_ids", expanding=True)))
    .order_by(Delivery.id)
)


def load_jobs(session: Session, delivery_ids: list[int]) -> list[Job]:
    """The claimed deliveries with their subscribers, as plain rows read on the session's connection (Core:
    no ORM result processing, no identity map). The statement is made once, its list of ids a parameter (not
    500 literals coerced one by one), and the rows fetched all at once (not one call each)."""
    rows = session.connection().execute(_JOBS, {"delivery_ids": delivery_ids}).all()
    return [
        Job(delivery_id, edition_id, attempts, subscriber_id, status, Recipient(email, name, uid), language)
        for delivery_id, edition_id, attempts, subscriber_id, status, email, name, uid, language in rows
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
        mark_archive_changed(session)  # the archive's kept pages, in every process, go stale when this commits
    return [edition.id for edition in editions]


def resume_edition(session: Session, actor: audit.Actor, edition_id: int) -> Edition:
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
    audit.record(session, actor, "edition.resumed", "edition", edition_id)
    return edition


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    job: Job
    result: str  # sent | retry | failed | bounced | skipped | released
    error: str | None = None
    message_id: str | None = None  # of the message the server took (result "sent")


@dataclass
class Recorded:
    """What a group of outcomes did to the ledger."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused: list[tuple[int, str]] = field(default_factory=list)  # (edition id, why)


class LedgerStore:
    """The worker's Store on the database: each call is one short transaction."""

    def __init__(self, sessions: sessionmaker[Session], settings: DeliveryConfig) -> None:
        self.sessions = sessions
        self.settings = settings
        self._sent_marks: dict[str, _SentMark | _SentMarkFromArrays] = {}  # per dialect

    def claim(self, batch_size: int, now: datetime) -> list[Job]:
        with self.sessions() as session, session.begin():
            return load_jobs(session, claim_batch(session, batch_size, self.settings.lease_seconds, now))

    def frozen_editions(self, edition_ids: set[int]) -> dict[int, Edition | None]:
        """The editions, read for their frozen message (None: gone, or never frozen)."""
        with self.sessions() as session:
            found = {edition_id: session.get(Edition, edition_id) for edition_id in edition_ids}
        return {edition_id: edition if edition and edition.html else None for edition_id, edition in found.items()}

    def renderings(self, edition_id: int) -> dict[str, tuple[str, str]]:
        """The edition's renderings in other languages than the site's: language -> (html, text)."""
        with self.sessions() as session:
            rows = session.execute(
                select(EditionRendering.language, EditionRendering.html, EditionRendering.text).where(
                    EditionRendering.edition_id == edition_id
                )
            )
            return {language: (html, text) for language, html, text in rows}

    def next_due_at(self) -> datetime | None:
        with self.sessions() as session:
            return next_due_at(session, self.settings.lease_seconds)

    def finish_editions(self, now: datetime) -> list[int]:
        with self.sessions() as session, session.begin():
            return finish_editions(session, now)

    def sending_editions(self, edition_ids: set[int]) -> set[int]:
        with self.sessions() as session:
            query = select(Edition.id).where(Edition.id.in_(sorted(edition_ids)), Edition.status == "sending")
            return set(session.scalars(query))

    def renew(self, delivery_ids: set[int], now: datetime) -> None:
        with self.sessions() as session, session.begin():
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(sorted(delivery_ids)), Delivery.status == "sending")
                .values(claimed_at=now)
            )

    def admins(self) -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(select(Editor.email).where(Editor.role == "admin").order_by(Editor.id)))

    def edition_title(self, edition_id: int) -> str:
        with self.sessions() as session:
            return session.scalar(select(Edition.title).where(Edition.id == edition_id)) or f"edition {edition_id}"

    def record(self, outcomes: Sequence[Outcome], now: datetime) -> Recorded:
        """Write a group of outcomes in one transaction (sent, retry later, failed, bounced); pause
        editions that keep failing."""
        recorded = Recorded()
        if not outcomes:
            return recorded
        rows = [self._ledger_row(outcome, now) for outcome in outcomes]
        bounced = [o.job.subscriber_id for o in outcomes if o.result == "bounced"]
        with self.sessions() as session, session.begin():
            self._record_sent(session, [row for row in rows if row["b_status"] == "sent"], now)
            others = [row for row in rows if row["b_status"] != "sent"]
            if others:
                session.connection().execute(_LEDGER_UPDATE, others)
            if bounced:
                session.execute(
                    update(Subscriber)
                    .where(Subscriber.id.in_(bounced), Subscriber.status == "active")
                    .values(status="bounced")
                )
            recorded.paused = self._update_streaks(session, outcomes)
        for row in rows:
            recorded.sent += row["b_status"] == "sent"
            recorded.retried += row["b_status"] == "queued" and row["b_next"] is not None
            recorded.failed += row["b_status"] in ("failed", "bounced")
        return recorded

    def _record_sent(self, session: Session, rows: list[dict], now: datetime) -> None:
        """The common case: one executemany of a lean statement, each row with its own Message-ID."""
        if rows:
            connection = session.connection()
            dialect = connection.dialect
            mark = self._sent_marks.get(dialect.name)
            if mark is None:
                made = _SentMarkFromArrays() if dialect.name == "postgresql" else _SentMark(dialect)
                mark = self._sent_marks.setdefault(dialect.name, made)
            mark.execute(connection, rows, now)

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
            "b_message_id": outcome.message_id,
        }
        if result == "released":  # never tried: back to the queue as it was
            row |= {"b_status": "queued", "b_attempts": job.attempts - 1}
        elif result == "skipped":
            row["b_status"] = "failed"
        elif result == "retry" and job.attempts >= self.settings.max_attempts:
            row |= {"b_status": "failed", "b_error": f"gave up after {job.attempts} attempts: {outcome.error}"}
        elif result == "retry":
            delay = timedelta(seconds=self.settings.retry_seconds * 2 ** (job.attempts - 1))
            row |= {"b_status": "queued", "b_next": now + min(delay, MAX_RETRY_DELAY)}
        return row

    def _update_streaks(self, session: Session, outcomes: Sequence[Outcome]) -> list[tuple[int, str]]:
        """Track failures in a row per edition; pause (once, whoever gets there) at the threshold."""
        threshold = self.settings.pause_after_failures
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
            if not trailing:  # the streak is broken (written only when there was one): a Core statement made
                # once, as it runs with every group of outcomes (the ORM's update built and synchronised it each time)
                session.connection().execute(_STREAK_RESET, {"b_edition": edition_id})
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
                audit.record(session, audit.SYSTEM, "edition.paused", "edition", edition_id, {"reason": reason})
                paused.append((edition_id, reason))
        return paused


_TABLE = Delivery.__table__
_LEDGER_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.status == "sending")
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        last_error=bindparam("b_error"),
        next_attempt_at=bindparam("b_next"),
        sent_at=bindparam("b_sent_at"),
        message_id=bindparam("b_message_id"),
    )
)


# Its only parameters are the three of each row (the constants are written into it): see _SentMark.
_SENT_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.status == literal_column("'sending'"))
    .values(
        status=literal_column("'sent'"),
        sent_at=bindparam("b_sent_at"),
        last_error=null(),
        message_id=bindparam("b_message_id"),
    )
)


class _SentMark:
    """_SENT_UPDATE compiled once for a dialect and run as the driver's own executemany. Through SQLAlchemy each
    row's parameters are built and processed one by one (the same timestamp formatted again for every row on
    SQLite): half the cost of marking a message sent. Here the timestamp is processed once, as the column's
    type would, and the rows go to the driver as they are."""

    def __init__(self, dialect: Dialect) -> None:
        compiled = _SENT_UPDATE.compile(dialect=dialect)
        self.sql = compiled.string
        # A positional driver (SQLite's "?") takes each row as a tuple in the statement's order.
        self.in_order = itemgetter(*compiled.positiontup) if compiled.positional and compiled.positiontup else None
        self.timestamp = _TABLE.c.sent_at.type.dialect_impl(dialect).bind_processor(dialect)

    def execute(self, connection: Connection, sent: list[dict], now: datetime) -> None:
        """Mark the ledger rows (LedgerStore._ledger_row: their b_id and b_message_id) sent at `now`."""
        stamp = self.timestamp(now) if self.timestamp else now
        rows = [{"b_id": row["b_id"], "b_message_id": row["b_message_id"], "b_sent_at": stamp} for row in sent]
        connection.exec_driver_sql(self.sql, list(map(self.in_order, rows)) if self.in_order else rows)


class _SentMarkFromArrays:
    """PostgreSQL's sent mark: one UPDATE joined to the rows' ids and Message-IDs as two arrays (unnest), so a
    group of outcomes is one round trip. An executemany is a statement per row in the driver's pipeline, and
    each of its waits for the server hands the interpreter to the sending threads, whose turn can last the
    whole switch interval (5 ms): with two workers the main thread spent a quarter of the send there."""

    def __init__(self) -> None:
        from sqlalchemy.dialects.postgresql import ARRAY  # PostgreSQL's alone, and only once it is in use

        given = (
            func.unnest(bindparam("b_ids", type_=ARRAY(Integer)), bindparam("b_message_ids", type_=ARRAY(String)))
            .table_valued("id", "message_id")
            .render_derived()
        )
        self.statement = (
            update(_TABLE)
            .where(_TABLE.c.id == given.c.id, _TABLE.c.status == literal_column("'sending'"))
            .values(
                status=literal_column("'sent'"),
                sent_at=bindparam("b_sent_at"),
                last_error=null(),
                message_id=given.c.message_id,
            )
        )

    def execute(self, connection: Connection, sent: list[dict], now: datetime) -> None:
        ids = [row["b_id"] for row in sent]
        message_ids = [row["b_message_id"] for row in sent]
        connection.execute(self.statement, {"b_ids": ids, "b_message_ids": message_ids, "b_sent_at": now})


_EDITIONS = Edition.__table__
_STREAK_RESET = (
    update(_EDITIONS)
    .where(_EDITIONS.c.id == bindparam("b_edition"), _EDITIONS.c.failure_streak != 0)
    .values(failure_streak=0)
)


def scrub_errors(session: Session, address: str, also: tuple[str, ...] = ()) -> int:
    """Replace a forgotten person's address (and the `also` words, such as their name) in the error texts
    of deliveries and editions that quote it; return how many rows changed."""
    changed = 0
    for model in (Delivery, Edition):
        query = select(model).where(func.lower(model.last_error).contains(address.lower(), autoescape=True))
        for row in session.scalars(query):
            row.last_error = audit.scrub_text(row.last_error, address, also)
            changed += 1
    return changed
