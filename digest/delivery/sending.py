"""Sending an edition, as editors (or the scheduler) do it: a test copy to one address, or the real
send, which queues the ledger (digest.delivery.ledger) for the worker. Each writes its audit line."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from digest import audit
from digest.config import Config
from digest.delivery.dkim import make_signer
from digest.delivery.envelope import EnvelopeSender
from digest.delivery.errors import PermanentError, TransientError
from digest.delivery.ledger import start_sending
from digest.delivery.message import EditionMessage, Recipient, site_links
from digest.delivery.transport import make_transport
from digest.editions.compose import EditionRenderError, freeze, record_failure
from digest.editions.core import get_edition
from digest.errors import DigestError
from digest.runtime import Runtime
from digest.subscribers.roster import normalise_email


class TestNotSent(DigestError):
    """The mail server did not take a test copy."""

    __test__ = False  # not a pytest test class

    def __init__(self, reason: str) -> None:
        super().__init__(f"the mail server did not take the test: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Started:
    queued: int
    warnings: list[str]


def start(
    session: Session,
    config: Config,
    actor: audit.Actor,
    edition_id: int,
    now: datetime | None = None,
    action: str = "edition.send_started",
) -> int:
    """Start sending a draft or scheduled edition (in the caller's transaction); return the deliveries queued.
    The scheduler releasing a scheduled edition records ``edition.released``."""
    queued = start_sending(session, config, edition_id, now)
    audit.record(session, actor, action, "edition", edition_id, {"recipients": queued})
    return queued


def send_now(runtime: Runtime, actor: audit.Actor, edition_id: int) -> Started:
    """Start sending in a transaction of its own; an edition that does not render keeps why."""
    try:
        with runtime.sessions() as session, session.begin():
            queued = start(session, runtime.config, actor, edition_id)
            return Started(queued, list(get_edition(session, edition_id).warnings or []))
    except EditionRenderError as error:
        with runtime.sessions() as session, session.begin():  # the failed transaction was rolled back
            record_failure(session, edition_id, str(error))
        raise


def send_test(runtime: Runtime, actor: audit.Actor, edition_id: int, address: str, now: datetime | None = None) -> str:
    """Send the edition as it stands to one address, marked as a test; only the audit line is kept.
    Returns the address as normalised."""
    address = normalise_email(address)
    config = runtime.config
    transport = make_transport(config)
    try:
        with runtime.sessions() as session:
            edition = get_edition(session, edition_id)
            freeze(config, edition, now, public=False)
            links = site_links(config.site.base_url, runtime.secret_key)
            message = EditionMessage(
                edition,
                config.mail.from_address,
                config.site.name,
                links,
                "[TEST] ",
                make_signer(config),
                config.mail.unsubscribe_mailbox,
            )
            session.rollback()  # a test send renders but never freezes the edition
        recipient = Recipient(email=address, name=None, uid="test-recipient")
        pieces = message.pieces(recipient, message.new_message_id())
        transport.send(EnvelopeSender(config, runtime.secret_key)(None), address, pieces, dot_safe=True)
    except (TransientError, PermanentError, smtplib.SMTPException, OSError) as error:
        raise TestNotSent(str(error)) from error
    finally:
        transport.close()
    with runtime.sessions() as session, session.begin():
        audit.record(session, actor, "edition.test_sent", "edition", edition_id, {"to": address})
    return address
