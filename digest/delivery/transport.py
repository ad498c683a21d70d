"""Where messages go: an outbox folder (one .eml per message) or an SMTP server.

Both sit behind one small interface, so delivery never knows which one it talks to. `send` may
be called from `parallelism` threads at once; it raises digest.delivery.errors' TransientError or
PermanentError.
"""

from __future__ import annotations

from typing import Protocol

from digest.config import Config
from digest.delivery.envelope import Envelope
from digest.delivery.outbox import OutboxTransport
from digest.delivery.smtp_pool import SmtpPool


class Transport(Protocol):
    parallelism: int  # how many threads may call send at once

    def send(
        self, sender: str, recipient: str, pieces: list[bytes], dot_safe: bool = False, then: Envelope | None = None
    ) -> None:
        """`pieces`: the message's bytes in order (EditionMessage.pieces; a single piece for a message built
        whole). `dot_safe`: the caller built the message with no line starting with "." and a final CRLF.
        `then`: the (sender, recipient) of the message this thread sends next, which the caller promises to
        send at once; SMTP writes its envelope with this message's content."""

    def written_ahead(self) -> Envelope | None:
        """The `then` this thread's last send wrote ahead, which must be the thread's next message; else None."""

    def close(self) -> None: ...


def make_transport(config: Config) -> Transport:
    if config.mail.transport == "smtp":
        return SmtpPool(config.mail.smtp)
    return OutboxTransport(config.outbox_dir)
