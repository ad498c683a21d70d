"""The envelope sender (SMTP MAIL FROM, where bounces go) of each delivery, decided in one place."""

from __future__ import annotations

from email.utils import parseaddr
from typing import TYPE_CHECKING

from digest.config import Config

if TYPE_CHECKING:
    from digest.delivery.ledger import Job


class EnvelopeSender:
    """Made once per worker: the From address is parsed here, not for every message."""

    def __init__(self, config: Config) -> None:
        self.address = parseaddr(config.mail.from_address)[1]

    def __call__(self, job: Job | None) -> str:
        """The MAIL FROM address for one delivery (None: a message outside the ledger, such as a test)."""
        return self.address
