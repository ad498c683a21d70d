"""The envelope sender (SMTP MAIL FROM, where bounces go) of each message, decided in one place:
`mail.return_path` (else the From address), with a VERP token naming the delivery when `mail.verp` is on.
A message no ledger row follows (a test copy, a notice) goes out from the plain return path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.config import Config
from digest.delivery.verp import ReturnPath

if TYPE_CHECKING:
    from digest.delivery.ledger import Job

Envelope = tuple[str, str]  # a message's (MAIL FROM, RCPT TO)


class EnvelopeSender:
    """Made once per worker: the addresses are parsed here, not for every message."""

    def __init__(self, config: Config, secret_key: str) -> None:
        self.return_path = ReturnPath.of(config.mail, secret_key)

    def __call__(self, job: Job | None) -> str:
        """The MAIL FROM address for one delivery (None: a message outside the ledger, such as a test)."""
        return self.return_path.for_delivery(job.delivery_id if job is not None else None)


def notice_sender(config: Config) -> str:
    """The MAIL FROM of a notice (confirmation, alert, submitter's email): no delivery row, so no VERP token,
    and no secret needed to make one."""
    return EnvelopeSender(config, secret_key="")(None)
