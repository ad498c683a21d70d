"""Subscribers: add, list, import and export."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.models import SUBSCRIBER_STATUSES, Subscriber, utcnow

IMPORT_BATCH_ROWS = 10_000
EXPORT_FIELDS = ("email", "name", "status", "language", "topics", "created_at", "confirmed_at")
# Statuses an import never changes: the person said no, or the address does not work.
SUPPRESSED = ("unsubscribed", "bounced", "complained")


class SubscriberError(DigestError):
    """A subscriber operation that cannot be done, worded for the user."""


def normalise_email(address: str) -> str:
    """The canonical form of an address, or SubscriberError saying what is wrong with it."""
    try:
        checked = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise SubscriberError(f"{address.strip()!r} is not a valid email address: {error}") from None
    return checked.normalized.lower()


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def add_subscriber(session: Session, email: str, name: str | None = None, confirmed: bool = False) -> Subscriber:
    address = normalise_email(email)
    if find_subscriber(session, address):
        raise SubscriberError(f"{address} is already a subscriber")
    now = utcnow()
    subscriber = Subscriber(
        email=address,
        name=(name or "").strip() or None,
        status="active" if confirmed else "pending",
        preferences={"editions": ["digest", "newsletter"], "topics": []},
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

    Imported addresses are active unless the row says `pending`; an address that unsubscribed,
    bounced or complained is never re-activated.
    """
    reader = csv.DictReader(handle)
    if not reader.fieldnames or "email" not in [name.strip().lower() for name in reader.fieldnames]:
        raise SubscriberError("the CSV needs a header row with at least an 'email' column")
    report = ImportReport()
    for batch in _batches(enumerate(reader, start=2), IMPORT_BATCH_ROWS):
        with session_factory() as session, session.begin():
            _import_batch(session, [(line, _clean_row(row)) for line, row in batch], report)
        if on_progress:
            on_progress(batch[-1][0] - 1)
    return report


def _clean_row(row: dict[str | None, str | None]) -> dict[str, str]:
    return {(key or "").strip().lower(): (value or "").strip() for key, value in row.items() if key}


def _import_batch(session: Session, rows: list[tuple[int, dict[str, str]]], report: ImportReport) -> None:
    accepted: list[tuple[int, dict[str, str], str, str]] = []
    for line, row in rows:
        try:
            address = normalise_email(row.get("email", ""))
        except SubscriberError as error:
            report.rejected.append((line, str(error)))
            continue
        status = row.get("status") or "active"
        if status not in ("active", "pending"):
            report.rejected.append((line, f"status {status!r} cannot be imported; use active or pending"))
            continue
        accepted.append((line, row, address, status))
    known = _existing_by_email(session, [address for _, _, address, _ in accepted])
    for line, row, address, status in accepted:
        existing = known.get(address)
        if existing is None:
            known[address] = _new_subscriber(address, row, status)
            session.add(known[address])
            report.added += 1
        elif existing.status in SUPPRESSED:
            report.rejected.append((line, f"{address} is {existing.status}; it is never re-activated by an import"))
        elif _update_subscriber(existing, row):
            report.updated += 1
        else:
            report.unchanged += 1


def _existing_by_email(session: Session, addresses: list[str], chunk: int = 1000) -> dict[str, Subscriber]:
    found: dict[str, Subscriber] = {}
    unique = sorted(set(addresses))
    for start in range(0, len(unique), chunk):
        query = select(Subscriber).where(Subscriber.email.in_(unique[start : start + chunk]))
        found.update((subscriber.email, subscriber) for subscriber in session.scalars(query))
    return found


def _new_subscriber(address: str, row: dict[str, str], status: str) -> Subscriber:
    now = utcnow()
    return Subscriber(
        email=address,
        name=row.get("name") or None,
        status=status,
        language=row.get("language") or "en",
        preferences={"editions": ["digest", "newsletter"], "topics": _topics(row)},
        created_at=now,
        confirmed_at=now if status == "active" else None,
    )


def _update_subscriber(subscriber: Subscriber, row: dict[str, str]) -> bool:
    changed = False
    if row.get("name") and row["name"] != subscriber.name:
        subscriber.name, changed = row["name"], True
    if row.get("language") and row["language"] != subscriber.language:
        subscriber.language, changed = row["language"], True
    topics = _topics(row)
    preferences = dict(subscriber.preferences or {})
    if topics and topics != preferences.get("topics"):
        subscriber.preferences, changed = {**preferences, "topics": topics}, True
    return changed


def _topics(row: dict[str, str]) -> list[str]:
    return [topic.strip() for topic in row.get("topics", "").replace(";", ",").split(",") if topic.strip()]


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
    query = select(Subscriber).order_by(Subscriber.id).execution_options(yield_per=1000)
    for subscriber in session.scalars(query):
        topics = ",".join((subscriber.preferences or {}).get("topics", []))
        writer.writerow(
            [
                subscriber.email,
                subscriber.name or "",
                subscriber.status,
                subscriber.language,
                topics,
                subscriber.created_at.isoformat(),
                subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else "",
            ]
        )
        count += 1
    return count
