"""The envelope sender (SMTP MAIL FROM, where bounces go) of each delivery, decided in one place:
`mail.return_path` (else the From address), with a VERP token naming the delivery when `mail.verp` is on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.config import Config
from digest.delivery.verp import ReturnPath

if TYPE_CHECKING:
    from digest.delivery.ledger import Job


class EnvelopeSender:
    """Made once per worker: the addresses are parsed here, not for every message."""

    def __init__(self, config: Config, secret_key: str) -> None:
        self.return_path = ReturnPath.of(config.mail, secret_key)

    def __call__(self, job: Job | None) -> str:
        """The MAIL FROM address for one delivery (None: a message outside the ledger, such as a test)."""
        return self.return_path.for_delivery(job.delivery_id if job is not None else None)
