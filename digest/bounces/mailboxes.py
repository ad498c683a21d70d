"""Where reports are read from: a Maildir folder, an mbox file, or an IMAP mailbox over TLS.

Each source hands out at most ``max_messages`` unprocessed messages a run, each read up to
``max_bytes`` (a longer one comes with ``truncated`` set), and marks a message processed only when
told to, after its outcome is committed: a crash in between reads it again, and the database's
report keys make that harmless. Maildir marks with the Seen flag (moving it from new/ to cur/), IMAP
with \\Seen; an mbox file is read as it is, so the report keys alone make a second run a no-op.
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import os
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from digest.config import BouncesConfig, Config
from digest.errors import DigestError


class MailboxError(DigestError):
    """The bounce mailbox cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Incoming:
    key: str  # the message's name in its mailbox
    raw: bytes
    truncated: bool  # longer than max_bytes: only the start was read


class MailSource(Protocol):
    def messages(self) -> Iterator[Incoming]:
        """The unprocessed messages, at most max_messages of them."""

    def mark_processed(self, key: str) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Limits:
    max_messages: int
    max_bytes: int

    @classmethod
    def of(cls, settings: BouncesConfig) -> Limits:
        return cls(settings.max_messages_per_run, settings.max_message_bytes)


def _read_bounded(handle: object, limit: int) -> tuple[bytes, bool]:
    data = handle.read(limit + 1)  # type: ignore[attr-defined]
    return data[:limit], len(data) > limit


# --------------------------------------------------------------------------- Maildir


class MaildirSource:
    """A Maildir folder (new/, cur/, tmp/): unprocessed is every message without the Seen flag."""

    def __init__(self, path: Path, limits: Limits) -> None:
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise MailboxError(f"{path}: not a Maildir folder (it needs cur/ and new/ inside)")
        self.path, self.limits = path, limits

    def messages(self) -> Iterator[Incoming]:
        for subfolder, name in self._unseen():
            try:
                with (self.path / subfolder / name).open("rb") as handle:
                    raw, truncated = _read_bounded(handle, self.limits.max_bytes)
            except FileNotFoundError:  # another reader took it meanwhile
                continue
            except OSError as error:
                raise MailboxError(f"{self.path / subfolder / name}: cannot be read: {error.strerror}") from None
            yield Incoming(f"{subfolder}/{name}", raw, truncated)

    def _unseen(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for subfolder in ("new", "cur"):
            with os.scandir(self.path / subfolder) as entries:
                for entry in entries:
                    if len(found) >= self.limits.max_messages:
                        return found
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    if subfolder == "cur" and "S" in _maildir_flags(entry.name):
                        continue
                    found.append((subfolder, entry.name))
        return found

    def mark_processed(self, key: str) -> None:
        subfolder, _, name = key.partition("/")
        base, _, flags = name.partition(":2,") if ":2," in name else (name, "", "")
        seen = "".join(sorted(set(flags) | {"S"}))
        with contextlib.suppress(FileNotFoundError):  # moved by another reader: it is marked either way
            os.rename(self.path / subfolder / name, self.path / "cur" / f"{base}:2,{seen}")

    def close(self) -> None:
        pass


def _maildir_flags(name: str) -> str:
    return name.partition(":2,")[2] if ":2," in name else ""


# --------------------------------------------------------------------------- mbox


class MboxSource:
    """An mbox file, read as it is (nothing is marked: the report keys make reading it again harmless)."""

    def __init__(self, path: Path, limits: Limits) -> None:
        if not path.is_file():
            raise MailboxError(f"{path}: no such mbox file")
        self.box = mailbox.mbox(path, create=False)
        self.limits = limits

    def messages(self) -> Iterator[Incoming]:
        for number, key in enumerate(self.box.iterkeys()):
            if number >= self.limits.max_messages:
                return
            handle = self.box.get_file(key, from_=False)
            try:
                raw, truncated = _read_bounded(handle, self.limits.max_bytes)
            finally:
                handle.close()
            yield Incoming(str(key), raw, truncated)

    def mark_processed(self, key: str) -> None:
        pass

    def close(self) -> None:
        self.box.close()


# --------------------------------------------------------------------------- IMAP over TLS

_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass(frozen=True)
class ImapAddress:
    user: str
    host: str
    port: int
    folder: str

    @classmethod
    def parse(cls, url: str) -> ImapAddress:
        """``imaps://USER@HOST[:PORT][/FOLDER]`` (the user may hold an "@", or %40)."""
        parts = urlsplit(url)
        try:
            port = parts.port or 993
        except ValueError:
            raise MailboxError(f"bounces.mailbox: {url!r} has a port that is not a number") from None
        if parts.scheme != "imaps" or not parts.hostname or not parts.username:
            raise MailboxError(f"bounces.mailbox: {url!r} is not imaps://USER@HOST[:PORT][/FOLDER]")
        return cls(unquote(parts.username), parts.hostname, port, unquote(parts.path.strip("/")) or "INBOX")


class ImapSource:
    """An IMAP folder over TLS: unprocessed is every message without \\Seen; fetched with PEEK, so a
    message is marked only by mark_processed, and only its first max_bytes are transferred."""

    def __init__(self, address: ImapAddress, password: str, limits: Limits, tls: ssl.SSLContext, timeout: float):
        self.limits = limits
        try:
            self.client = imaplib.IMAP4_SSL(address.host, address.port, ssl_context=tls, timeout=timeout)
        except (OSError, imaplib.IMAP4.error) as error:
            raise MailboxError(f"bounces.mailbox: cannot reach {address.host}:{address.port}: {error}") from None
        try:
            self.client.login(address.user, password)
            status, _ = self.client.select(_quoted(address.folder))
        except (OSError, imaplib.IMAP4.error) as error:
            self.close()
            raise MailboxError(f"bounces.mailbox: {address.user} at {address.host}: {_text(error)}") from None
        if status != "OK":
            self.close()
            raise MailboxError(f"bounces.mailbox: no folder {address.folder!r} at {address.host}")

    def _uid(self, *command: str | None) -> tuple[str, list]:
        """One UID command; a dropped connection or a refusal is a MailboxError, not a traceback."""
        try:
            return self.client.uid(*command)
        except (OSError, imaplib.IMAP4.error) as error:
            raise MailboxError(f"bounces.mailbox: {command[0]} failed: {_text(error)}") from None

    def messages(self) -> Iterator[Incoming]:
        status, data = self._uid("SEARCH", None, "UNSEEN")
        if status != "OK":
            raise MailboxError(f"bounces.mailbox: the server refused to search: {_text(data)}")
        uids = (data[0] or b"").split()[: self.limits.max_messages]
        for uid in uids:
            fetched = self._fetch(uid.decode("ascii"))
            if fetched is not None:
                yield fetched

    def _fetch(self, uid: str) -> Incoming | None:
        limit = self.limits.max_bytes
        status, data = self._uid("FETCH", uid, f"(RFC822.SIZE BODY.PEEK[]<0.{limit}>)")
        literal = next((item for item in data or [] if isinstance(item, tuple)), None)
        if status != "OK" or literal is None:
            return None  # expunged meanwhile
        size = _FETCH_SIZE.search(literal[0])
        truncated = bool(size) and int(size.group(1)) > limit
        return Incoming(uid, literal[1][:limit], truncated)

    def mark_processed(self, key: str) -> None:
        self._uid("STORE", key, "+FLAGS", "(\\Seen)")

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.client.logout()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value: object) -> str:
    if isinstance(value, list):
        value = b" ".join(part for part in value if isinstance(part, bytes))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300]


def tls_context(config: Config) -> ssl.SSLContext:
    """The system's trusted certificates, plus bounces.ca_file when set (a private CA, a test server)."""
    context = ssl.create_default_context()
    if config.bounces.ca_file:
        try:
            context.load_verify_locations(cafile=str(config.resolve(config.bounces.ca_file)))
        except (OSError, ssl.SSLError) as error:
            raise MailboxError(f"bounces.ca_file: cannot load {config.bounces.ca_file}: {error}") from None
    return context


def open_source(config: Config, maildir: Path | None = None, mbox: Path | None = None) -> MailSource:
    """The source a run reads: --maildir or --mbox when given, else bounces.mailbox."""
    limits = Limits.of(config.bounces)
    if maildir is not None:
        return MaildirSource(maildir, limits)
    if mbox is not None:
        return MboxSource(mbox, limits)
    configured = config.bounces.mailbox
    if not configured:
        raise MailboxError("no bounce mailbox: set bounces.mailbox, or pass --maildir DIR or --mbox FILE")
    if configured.startswith("imaps://"):
        if not config.bounces.password:
            raise MailboxError("bounces.password (or DIGEST_BOUNCES_PASSWORD) is needed to log in to the mailbox")
        address = ImapAddress.parse(configured)
        return ImapSource(address, config.bounces.password, limits, tls_context(config), config.bounces.timeout_seconds)
    return MaildirSource(config.resolve(configured), limits)
