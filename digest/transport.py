"""Where messages go: an outbox folder (one .eml per message) or an SMTP server.

Both sit behind one small interface, so delivery never knows which one it talks to.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import smtplib
import ssl
from pathlib import Path
from typing import Protocol

from digest.config import Config, SmtpConfig


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
    def send(self, sender: str, recipient: str, message: bytes) -> None: ...

    def close(self) -> None: ...


class OutboxTransport:
    """Writes each message to its own .eml file, atomically (temp file, then rename)."""

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


class SmtpTransport:
    """One SMTP connection, opened on first use and reopened after a drop."""

    def __init__(self, settings: SmtpConfig) -> None:
        self.settings = settings
        self._connection: smtplib.SMTP | None = None

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        try:
            connection = self._connect()
            refused = connection.sendmail(sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients[recipient]
            self._raise_for_reply(code, reply)
        except smtplib.SMTPResponseException as error:
            self._raise_for_reply(error.smtp_code, error.smtp_error)
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._drop()
            raise TransientError(f"connection to {self._where()} lost: {error or type(error).__name__}") from None
        if refused:
            code, reply = refused[recipient]
            self._raise_for_reply(code, reply)

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._connection.quit()
            self._connection = None

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        settings = self.settings
        if settings.security == "ssl":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
            if settings.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
        if settings.username:
            connection.login(settings.username, settings.password or "")
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def _raise_for_reply(self, code: int, reply: bytes | str) -> None:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        message = f"{self._where()} answered {code} {text}".strip()
        if 400 <= code < 500:
            # The session may be unusable after a 4xx (421 closes it): start afresh next time.
            self._drop() if code == 421 else self._reset()
            raise TransientError(message)
        self._reset()
        enhanced = text.split(" ", 1)[0] if text[:2] in ("5.", "4.") else ""
        raise PermanentError(message, code=code, enhanced=enhanced)

    def _reset(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _where(self) -> str:
        return f"SMTP server {self.settings.host}:{self.settings.port}"


def make_transport(config: Config) -> Transport:
    if config.mail.transport == "smtp":
        return SmtpTransport(config.mail.smtp)
    return OutboxTransport(config.outbox_dir)
