"""Subscribers: add, list, import and export; the suppression list of forgotten addresses."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.models import SUBSCRIBER_STATUSES, Subscriber, Suppression, utcnow
from digest.subscribers.preferences import make_preferences, topics_of

IMPORT_BATCH_ROWS = 10_000
EXPORT_FIELDS = ("email", "name", "status", "language", "topics", "created_at", "confirmed_at")
# Statuses nothing but the person's own confirmation changes: they said no, or the address does not work.
SUPPRESSED = ("unsubscribed", "bounced", "complained")
ERASED_DOMAIN = "erased.invalid"  # the address of a forgotten subscriber's anonymous row
_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")


class SubscriberError(DigestError):
    """A subscriber operation that cannot be done, worded for the user."""


def normalise_email(address: str) -> str:
    """The canonical form of an address, or SubscriberError saying what is wrong with it."""
    try:
        checked = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise SubscriberError(f"{address.strip()!r} is not a valid email address: {error}") from None
    return checked.normalized.lower()


def suppression_hash(address: str) -> str:
    """SHA-256 of the normalised address: what is kept of someone who asked to be forgotten.

    Unkeyed on purpose, so it survives a change of secret key; a guessed address can be checked
    against it, nothing more."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def is_suppressed(session: Session, address: str) -> bool:
    return session.scalar(select(Suppression.id).where(Suppression.email_hash == suppression_hash(address))) is not None


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def add_subscriber(session: Session, email: str, name: str | None = None, confirmed: bool = False) -> Subscriber:
    address = normalise_email(email)
    if find_subscriber(session, address):
        raise SubscriberError(f"{address} is already a subscriber")
    if is_suppressed(session, address):
        raise SubscriberError(f"{address} asked to be forgotten; it cannot be added again")
    now = utcnow()
    subscriber = Subscriber(
        email=address,
        name=(name or "").strip() or None,
        status="active" if confirmed else "pending",
        preferences=make_preferences(),
        created_at=now,
        confirmed_at=now if confirmed else None,
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def list_subscribers(session: Session, status: str | None = None) -> list[Subscriber]:
    if status is not None and status not in SUBSCRIBER_STATUSES:
        raise SubscriberError(f"unknown status {status!r}; use one of {', '.join(SUBSCRIBER_STATUSES)}")
    query = select(Subscriber).order_by(Subscriber.id)
    if status:
        query = query.where(Subscriber.status == status)
    return list(session.scalars(query))


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def import_csv(
    session_factory: Callable[[], Session],
    handle: IO[str],
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Stream a CSV (email, name, topics, language, status) into the subscribers, in batches.

    Rows are active unless their status says otherwise. `pending` rows wait for the person's
    confirmation; `unsubscribed`, `bounced` and `complained` rows are recorded as such (an active
    address is lowered to them). Nothing is ever raised back to active: an address that
    unsubscribed, bounced or complained stays so, and a forgotten address is not added again.
    """
    reader = csv.DictReader(handle)
    if not reader.fieldnames or "email" not in [name.strip().lower() for name in reader.fieldnames if name]:
        raise SubscriberError("the CSV needs a header row with at least an 'email' column")
    report = ImportReport()
    for batch in _batches(enumerate(reader, start=2), IMPORT_BATCH_ROWS):
        with session_factory() as session, session.begin():
            _import_batch(session, [(line, _clean_row(row)) for line, row in batch], report)
        if on_progress:
            on_progress(batch[-1][0] - 1)
    return report


def _clean_row(row: dict[str | None, str | list[str] | None]) -> dict[str, str]:
    # Extra cells beyond the header come under the key None: ignored.
    return {key.strip().lower(): (value or "").strip() for key, value in row.items() if isinstance(key, str)}


@dataclass(frozen=True)
class _Row:
    line: int
    address: str
    status: str
    values: dict[str, str]


def _import_batch(session: Session, rows: list[tuple[int, dict[str, str]]], report: ImportReport) -> None:
    accepted: list[_Row] = []
    for line, values in rows:
        try:
            accepted.append(_checked_row(line, values))
        except SubscriberError as error:
            report.rejected.append((line, str(error)))
    known = _existing_by_email(session, [row.address for row in accepted])
    forgotten = _suppressed_among(session, [row.address for row in accepted])
    for row in accepted:
        existing = known.get(row.address)
        if row.address in forgotten:
            report.rejected.append((row.line, f"{row.address} asked to be forgotten; it is never added again"))
        elif existing is None:
            known[row.address] = _new_subscriber(row)
            session.add(known[row.address])
            report.added += 1
        elif existing.status in SUPPRESSED and row.status not in SUPPRESSED:
            report.rejected.append(
                (row.line, f"{row.address} is {existing.status}; it is never re-activated by an import")
            )
        elif _update_subscriber(existing, row):
            report.updated += 1
        else:
            report.unchanged += 1


def _checked_row(line: int, values: dict[str, str]) -> _Row:
    address = normalise_email(values.get("email", ""))
    status = (values.get("status") or "active").lower()
    if status not in SUBSCRIBER_STATUSES:
        raise SubscriberError(f"status {status!r} is not one of {', '.join(SUBSCRIBER_STATUSES)}")
    language = values.get("language", "")
    if language and not _LANGUAGE_CODE.match(language):
        raise SubscriberError(f"language {language!r} is not a language code such as en, fr or pt-BR")
    return _Row(line, address, status, values)


def _existing_by_email(session: Session, addresses: list[str], chunk: int = 1000) -> dict[str, Subscriber]:
    found: dict[str, Subscriber] = {}
    unique = sorted(set(addresses))
    for start in range(0, len(unique), chunk):
        query = select(Subscriber).where(Subscriber.email.in_(unique[start : start + chunk]))
        found.update((subscriber.email, subscriber) for subscriber in session.scalars(query))
    return found


def _suppressed_among(session: Session, addresses: list[str], chunk: int = 1000) -> set[str]:
    by_hash = {suppression_hash(address): address for address in addresses}
    hashes = sorted(by_hash)
    found: set[str] = set()
    for start in range(0, len(hashes), chunk):
        query = select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes[start : start + chunk]))
        found.update(by_hash[value] for value in session.scalars(query))
    return found


def _new_subscriber(row: _Row) -> Subscriber:
    now = utcnow()
    return Subscriber(
        email=row.address,
        name=row.values.get("name") or None,
        status=row.status,
        language=row.values.get("language") or "en",
        preferences=make_preferences(topics=_topics(row.values)),
        created_at=now,
        confirmed_at=now if row.status == "active" else None,
        unsubscribed_at=now if row.status in SUPPRESSED else None,
    )


def _update_subscriber(subscriber: Subscriber, row: _Row) -> bool:
    changed = False
    values = row.values
    if values.get("name") and values["name"] != subscriber.name:
        subscriber.name, changed = values["name"], True
    if values.get("language") and values["language"] != subscriber.language:
        subscriber.language, changed = values["language"], True
    topics = _topics(values)
    if topics and topics != topics_of(subscriber.preferences):
        subscriber.preferences, changed = {**(subscriber.preferences or {}), "topics": topics}, True
    if row.status in SUPPRESSED and subscriber.status in ("active", "pending"):  # lowering is always allowed
        subscriber.status, subscriber.unsubscribed_at, changed = row.status, utcnow(), True
    return changed


def _topics(values: dict[str, str]) -> list[str]:
    raw = values.get("topics", "").replace(";", ",").split(",")
    return make_preferences(topics=raw)["topics"]


def _batches(rows: Iterable[tuple[int, dict]], size: int) -> Iterator[list[tuple[int, dict]]]:
    batch: list[tuple[int, dict]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def export_csv(session: Session, handle: IO[str]) -> int:
    writer = csv.writer(handle)
    writer.writerow(EXPORT_FIELDS)
    count = 0
    query = (
        select(Subscriber)
        .where(Subscriber.email.not_like(f"%@{ERASED_DOMAIN}"))
        .order_by(Subscriber.id)
        .execution_options(yield_per=1000)
    )
    for subscriber in session.scalars(query):
        writer.writerow(
            [
                subscriber.email,
                subscriber.name or "",
                subscriber.status,
                subscriber.language,
                ",".join(topics_of(subscriber.preferences)),
                subscriber.created_at.isoformat(),
                subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else "",
            ]
        )
        count += 1
    return count
