"""Where messages go: an outbox folder (one .eml per message) or an SMTP server.

Both sit behind one small interface, so delivery never knows which one it talks to. `send` may
be called from `parallelism` threads at once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

from digest.config import Config


class TransientError(Exception):
    """Try again later: a 4xx reply, a dropped connection, a timeout."""


class PermanentError(Exception):
    """Do not try again: a 5xx reply. `code` and `enhanced` carry the server's verdict."""

    def __init__(self, message: str, code: int = 550, enhanced: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.enhanced = enhanced

    @property
    def hard_bounce(self) -> bool:
        """5.1.x: the address itself is bad (no such user, bad domain)."""
        return self.enhanced.startswith("5.1.")


class Transport(Protocol):
    parallelism: int  # how many threads may call send at once

    def send(self, sender: str, recipient: str, message: bytes) -> None: ...

    def close(self) -> None: ...


class OutboxTransport:
    """Writes each message to its own .eml file, atomically (temp file, then rename)."""

    parallelism = 1

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        digest = hashlib.sha256(message).hexdigest()[:16]
        safe_recipient = "".join(c if c.isalnum() or c in "@._-" else "_" for c in recipient)
        final = self.folder / f"{safe_recipient}-{digest}.eml"
        temporary = final.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(message)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(final)

    def close(self) -> None:
        return None


def make_transport(config: Config) -> Transport:
    if config.mail.transport == "smtp":
        from digest.smtp_pool import SmtpPool

        return SmtpPool(config.mail.smtp)
    return OutboxTransport(config.outbox_dir)
