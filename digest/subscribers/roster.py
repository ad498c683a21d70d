"""Subscribers: add, list, import and export; unsubscribe or forget one; the suppression list of
forgotten addresses. What editors do here (from the web app or the command line) writes its audit line."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from digest import audit
from digest.analytics.clicks import erase_clicks_of
from digest.bounces.privacy import scrub_reports
from digest.clean import has_controls, strip_controls
from digest.delivery.ledger import scrub_errors
from digest.delivery.outbox import outbox_file_stem
from digest.errors import DigestError, required
from digest.models import ERASED_DOMAIN, SUBSCRIBER_STATUSES, Subscriber, Suppression, new_uid, utcnow
from digest.submissions.privacy import anonymise_submissions
from digest.subscribers.preferences import make_preferences, topics_of

IMPORT_BATCH_ROWS = 10_000
NAME_MAX = 200  # Subscriber.name
EXPORT_FIELDS = ("email", "name", "status", "language", "topics", "created_at", "confirmed_at")
# Statuses nothing but the person's own confirmation changes: they said no, or the address does not work.
SUPPRESSED = ("unsubscribed", "bounced", "complained")
_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
THE_SUBSCRIBER = audit.Actor("subscriber")  # the person, acting on their own subscription from its links


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


def get_subscriber(session: Session, subscriber_id: int) -> Subscriber:
    missing = f"no subscriber with id {subscriber_id}"
    return required(session.get(Subscriber, subscriber_id), SubscriberError, missing)


def named_subscriber(session: Session, email: str) -> Subscriber:
    """The subscriber with this address (SubscriberError when there is none)."""
    missing = f"no subscriber {email.strip()} (see `digest subscribers list`)"
    return required(find_subscriber(session, normalise_email(email)), SubscriberError, missing)


def add_subscriber(
    session: Session, actor: audit.Actor, email: str, name: str | None = None, confirmed: bool = False
) -> Subscriber:
    """Add one address ("subscriber.added"): pending until its owner confirms, unless `confirmed`."""
    address = normalise_email(email)
    if find_subscriber(session, address):
        raise SubscriberError(f"{address} is already a subscriber")
    if is_suppressed(session, address):
        raise SubscriberError(f"{address} asked to be forgotten; it cannot be added again")
    now = utcnow()
    subscriber = Subscriber(
        email=address,
        name=" ".join(strip_controls(name or "").split()) or None,
        status="active" if confirmed else "pending",
        preferences=make_preferences(),
        created_at=now,
        confirmed_at=now if confirmed else None,
    )
    session.add(subscriber)
    session.flush()
    audit.record(session, actor, "subscriber.added", "subscriber", subscriber.id, {"status": subscriber.status})
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

    def merge(self, other: ImportReport) -> None:
        self.added, self.updated = self.added + other.added, self.updated + other.updated
        self.unchanged += other.unchanged
        self.rejected.extend(other.rejected)


def import_csv(
    session_factory: Callable[[], Session],
    actor: audit.Actor,
    handle: IO[str],
    file_name: str,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Stream a CSV (email, name, topics, language, status) into the subscribers, in batches, then
    write one "subscribers.imported" line with the counts.

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
        rows = [(line, _clean_row(row)) for line, row in batch]
        try:
            with session_factory() as session, session.begin():
                counted = ImportReport()
                _import_batch(session, rows, counted)
        except DBAPIError:  # a row the checks let through but the database refuses: find it, keep the rest
            counted = ImportReport()
            for row in rows:
                _import_alone(session_factory, row, counted)
        report.merge(counted)
        if on_progress:
            on_progress(batch[-1][0] - 1)
    detail = {
        "file": file_name,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": len(report.rejected),
    }
    with session_factory() as session, session.begin():
        audit.record(session, actor, "subscribers.imported", "subscriber", None, detail)
    return report


def _import_alone(
    session_factory: Callable[[], Session], row: tuple[int, dict[str, str]], report: ImportReport
) -> None:
    alone = ImportReport()
    try:
        with session_factory() as session, session.begin():
            _import_batch(session, [row], alone)
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        report.rejected.append((row[0], f"the database refused this row: {reason}"))
    else:
        report.merge(alone)


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
    for column, value in values.items():
        if has_controls(value):
            raise SubscriberError(f"column {column!r} holds a control character (such as NUL); fix the file")
    if len(values.get("name", "")) > NAME_MAX:
        raise SubscriberError(f"the name is longer than {NAME_MAX} characters")
    if "name" in values:
        values = {**values, "name": from_spreadsheet_cell(values["name"])}
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


def spreadsheet_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with =, +, -, @, a tab or a CR would be read as a
    formula (OWASP "CSV injection"), so it gets a leading single quote."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def from_spreadsheet_cell(value: str) -> str:
    """What `spreadsheet_cell` protected, as it was: an export read back in keeps the names it had."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS) else value


def export_csv(session: Session, actor: audit.Actor, handle: IO[str]) -> int:
    """Write every subscriber (not the forgotten) as CSV; return how many, with a "subscribers.exported"
    line in the caller's transaction."""
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
            spreadsheet_cell(cell)
            for cell in [
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
    audit.record(session, actor, "subscribers.exported", "subscriber", None, {"rows": count})
    return count


def unsubscribe(subscriber: Subscriber, now: datetime | None = None) -> bool:
    """Stop every mailing to this person at once; False when nothing changed (already unsubscribed,
    or bounced/complained, which stay as they are)."""
    if subscriber.status not in ("active", "pending"):
        return False
    subscriber.status, subscriber.unsubscribed_at = "unsubscribed", now or utcnow()
    return True


def unsubscribe_subscriber(session: Session, actor: audit.Actor, subscriber: Subscriber) -> bool:
    """An editor unsubscribes someone ("subscriber.unsubscribed"); False when they already receive nothing."""
    was = subscriber.status
    if not unsubscribe(subscriber):
        return False
    audit.record(session, actor, "subscriber.unsubscribed", "subscriber", subscriber.id, {"was": was})
    return True


def forget_subscriber(
    session: Session,
    actor: audit.Actor,
    subscriber: Subscriber,
    now: datetime | None = None,
    outbox_dir: Path | None = None,
) -> None:
    """Erase the person's data ("subscriber.forgotten"). The row stays, anonymous, so edition counts keep
    adding up; a hash of the address stays in suppressions so no import or subscribe form adds it back.

    Everywhere else the address was written goes too: delivery and edition errors quoting it, audit details
    (a test send to it), the contact of their submissions, and, once the transaction commits, the outbox
    files addressed to them. Which links they followed (`analytics.per_subscriber`) goes, and is no longer
    recorded; the audit line says how many click rows were erased."""
    addresses = [address for address in (subscriber.email, subscriber.pending_email) if address]
    name = (subscriber.name or "").strip()
    if not is_suppressed(session, subscriber.email):
        session.add(Suppression(email_hash=suppression_hash(subscriber.email), reason="forgotten"))
    anonymous = new_uid()
    subscriber.uid = anonymous  # every link ever sent to the person stops working
    subscriber.email = f"forgotten-{anonymous}@{ERASED_DOMAIN}"
    subscriber.name = subscriber.pending_email = None
    subscriber.preferences = {}
    subscriber.status, subscriber.unsubscribed_at = "unsubscribed", now or utcnow()
    also = (name,) if name else ()
    for address in addresses:
        scrub_errors(session, address, also)
        scrub_reports(session, address, also)
        audit.redact(session, address, also)
        anonymise_submissions(session, address, subscriber.email, audit.REDACTED)
    clicks = erase_clicks_of(session, subscriber.id)
    audit.record(session, actor, "subscriber.forgotten", "subscriber", subscriber.id, {"clicks_erased": clicks})
    if outbox_dir is not None:
        _delete_outbox_files_after_commit(session, outbox_dir, addresses)


def _delete_outbox_files_after_commit(session: Session, outbox_dir: Path, addresses: list[str]) -> None:
    def delete(_session: Session) -> None:
        for path in outbox_files_for(outbox_dir, addresses):
            path.unlink(missing_ok=True)

    event.listen(session, "after_commit", delete, once=True)


def outbox_files_for(outbox_dir: Path, addresses: list[str]) -> list[Path]:
    """The outbox's messages to these addresses (digest.delivery.outbox names them `<recipient>-<hash>.eml`)."""
    if not addresses or not outbox_dir.is_dir():
        return []
    names = "|".join(re.escape(outbox_file_stem(address)) for address in addresses)
    pattern = re.compile(rf"(?:{names})-[0-9a-f]{{16}}\.(?:eml|tmp)", re.IGNORECASE)
    return [path for path in outbox_dir.iterdir() if pattern.fullmatch(path.name)]
