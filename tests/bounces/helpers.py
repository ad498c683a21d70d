"""Helpers for the bounce tests: an edition really sent through aiosmtpd with VERP, Maildirs, statuses."""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from digest.models import AuditEntry, Delivery, Subscriber
from digest.runtime import Runtime
from tests.delivery_helpers import drain, queue_edition, smtp_runtime_for
from tests.smtpserver import Received, RecordingHandler

RETURN_PATH = "bounces@lists.example.org"


def bounce_runtime(write_config: Callable[..., Path], port: int, verp: bool = True, **bounces: Any) -> Runtime:
    """A runtime sending through the SMTP server on `port`, bounces going to RETURN_PATH (with VERP)."""
    mail = {"return_path": RETURN_PATH, "verp": verp}
    return smtp_runtime_for(write_config, port, mail=mail, bounces=bounces)


def send_edition(runtime: Runtime, handler: RecordingHandler, readers: int = 4) -> tuple[int, dict[str, Received]]:
    """Queue an edition for `readers` subscribers and send it; what the server received, by recipient."""
    handler.received.clear()
    edition_id, emails = queue_edition(runtime, readers) if not _has_readers(runtime) else _queue_again(runtime)
    drain(runtime)
    received = {r.recipients[0]: r for r in handler.received}
    assert sorted(received) == sorted(emails)
    return edition_id, received


def _has_readers(runtime: Runtime) -> bool:
    with runtime.sessions() as session:
        return session.scalar(select(Subscriber.id).limit(1)) is not None


def _queue_again(runtime: Runtime) -> tuple[int, list[str]]:
    """Another edition to the active readers already there."""
    from digest.audit import SYSTEM
    from digest.delivery.ledger import start_sending
    from digest.editions.lifecycle import create_edition
    from tests.factories import make_item

    with runtime.sessions() as session, session.begin():
        count = session.scalar(select(Delivery.id).order_by(Delivery.id.desc()).limit(1)) or 0
        make_item(session, f"More cluster news {count}")
        edition = create_edition(session, runtime.config, SYSTEM, "newsletter").require()
        start_sending(session, runtime.config, edition.id)
        emails = session.scalars(
            select(Subscriber.email)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.edition_id == edition.id)
        )
        return edition.id, list(emails)


def maildir_with(folder: Path, *messages: bytes) -> Path:
    """A real Maildir (the standard library writes it) holding the messages, unseen, in new/."""
    box = mailbox.Maildir(folder, create=True)
    for raw in messages:
        box.add(raw)
    box.close()
    return folder


def status_of(runtime: Runtime, email: str) -> str:
    with runtime.sessions() as session:
        return session.scalar(select(Subscriber.status).where(Subscriber.email == email))


def feedback_of(runtime: Runtime, email: str, edition_id: int) -> str | None:
    with runtime.sessions() as session:
        return session.scalar(
            select(Delivery.feedback)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Subscriber.email == email, Delivery.edition_id == edition_id)
        )


def delivery_id_of(runtime: Runtime, email: str, edition_id: int) -> int:
    with runtime.sessions() as session:
        return session.scalar(
            select(Delivery.id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Subscriber.email == email, Delivery.edition_id == edition_id)
        )


def audit_lines(runtime: Runtime, prefix: str = "bounce.") -> list[AuditEntry]:
    with runtime.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)
        return list(session.scalars(query))
