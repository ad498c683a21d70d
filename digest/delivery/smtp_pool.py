"""SMTP delivery over a pool of connections to one server, at a limited rate.

Each connection speaks MAIL, RCPT and DATA itself (not `sendmail`) so a reply is known by
stage: a connection that turns out dead at MAIL, before anything of the message left, is
reopened and the message tried once more at once; anything later is the caller's retry.
smtplib opens a connection (EHLO, STARTTLS, login); the commands of each message are then
written to its socket directly and the replies read by digest.delivery.smtp_reply.

With PIPELINING (RFC 2920) a message's MAIL, RCPT and DATA go out in one write, and when the caller names
the message it sends next on the same connection (`then`), that message's envelope goes out in the same
write as this one's content: RFC 2920, 3.1 lets the content open a group. A worker's message then costs one
write and one read. Its replies are read when that message is sent; until then the connection is its sending
thread's alone, and anything other than that message hangs up (the server, waiting for content, discards it).
"""

from __future__ import annotations

import contextlib
import queue
import re
import smtplib
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from digest.config import SmtpConfig
from digest.delivery.envelope import Envelope
from digest.delivery.errors import PermanentError, TransientError
from digest.delivery.rate import RateLimiter
from digest.delivery.smtp_reply import ReplyReader, use_kernel_timeouts

T = TypeVar("T")
IDLE_CHECK_SECONDS = 20.0  # a connection idle longer than this is checked with NOOP before use
# An envelope written ahead keeps the server waiting for its content until the rate limit lets that message go:
# about pool_size / rate_per_second. Servers wait 5 minutes or more (RFC 5321, 4.5.3.2.7); a slower limit than
# this allows sends each envelope with its own message instead.
AHEAD_WAIT_SECONDS = 30.0
_ENHANCED_CODE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\b")
DOT_AT_LINE_START = re.compile(rb"(?m)^\.")
DOT_AFTER_NEWLINE = re.compile(rb"\n\.")


class _Dropped(Exception):
    """The server hung up (or the socket failed) at the given stage."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(stage)
        self.stage = stage
        self.error = error


class SmtpConnection:
    """One connection, opened on first use (TLS and login as configured) and reopened after a drop."""

    def __init__(self, settings: SmtpConfig) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._replies: ReplyReader | None = None
        self._sock: socket.socket | None = None
        self._last_used = 0.0
        self.ahead: Envelope | None = None  # the envelope written after the last content, its replies unread

    @property
    def where(self) -> str:
        return f"SMTP server {self.settings.host}:{self.settings.port}"

    def send(
        self, sender: str, recipient: str, pieces: list[bytes], dot_safe: bool = False, then: Envelope | None = None
    ) -> None:
        """Deliver one message (its bytes in order, as pieces); TransientError or PermanentError when the
        server does not take it. `dot_safe`: no line of the message starts with "." and it ends with CRLF
        (as edition messages are built), so it goes out as it stands. `then`: the envelope of the message the
        caller sends next on this connection, written ahead when the server allows (`ahead` tells)."""
        if self.ahead is not None and self.ahead != (sender, recipient):
            self.close(polite=False)  # the server waits for another message's content: only hanging up ends it
        reused = self._smtp is not None
        if not dot_safe:
            pieces = [dot_stuffed(b"".join(pieces))]
        try:
            self._transaction(sender, recipient, pieces, then)
        except _Dropped as dropped:
            self.close(polite=False)
            if not (reused and dropped.stage == "MAIL"):
                raise self._lost(dropped) from None
            try:  # a kept-alive connection the server had closed: nothing was sent yet, try afresh
                self._transaction(sender, recipient, pieces, then)
            except _Dropped as again:
                self.close(polite=False)
                raise self._lost(again) from None
        finally:
            self._last_used = time.monotonic()

    def close(self, polite: bool = True) -> None:
        if self._smtp is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            if polite and self.ahead is None:  # after an envelope written ahead, QUIT would be content
                self._command("QUIT")
        with contextlib.suppress(OSError):
            self._smtp.close()
        self._smtp = self._replies = self._sock = self.ahead = None

    def _transaction(self, sender: str, recipient: str, pieces: list[bytes], then: Envelope | None) -> None:
        if not recipient.isprintable():  # a CR or LF would end the command and start another
            raise PermanentError(f"not a mailbox: {recipient!r}", 553, "5.1.3")
        if not sender.isprintable():
            raise PermanentError(f"not a sender's mailbox: {sender!r}", 553)
        written_ahead, self.ahead = self.ahead is not None, None
        smtp = self._smtp if written_ahead and self._smtp is not None else self._open()
        utf8 = not (sender + recipient).isascii()  # an internationalised address (RFC 6531)
        if utf8 and not smtp.has_extn("smtputf8"):
            raise PermanentError(f"{self.where} cannot take {recipient}: it does not offer SMTPUTF8", 553, "5.6.7")
        mail, rcpt, data = self._envelope(smtp, _commands(sender, recipient, utf8), written_ahead)
        for (code, reply), accepted in ((mail, (250,)), (rcpt, (250, 251)), (data, (354,))):
            if code not in accepted:
                if data[0] == 354:  # a server that invited the content after refusing the envelope: end it
                    self._step("DATA", self._content, [], None)
                self._refused(code, reply)
        code, reply = self._step("DATA", self._content, pieces, self._ahead_of(smtp, then))
        if code != 250:
            self._refused(code, reply, after_content=True)

    def _envelope(
        self, smtp: smtplib.SMTP, commands: list[tuple[str, str]], written_ahead: bool
    ) -> list[tuple[int, bytes]]:
        """MAIL, RCPT and DATA: in one write when the server offers PIPELINING (RFC 2920), else one by one.
        `written_ahead`: they went out with the last message's content; only their replies are left."""
        if not smtp.has_extn("pipelining"):
            replies = []
            for stage, command in commands:
                replies.append(self._step(stage, self._command, command))
                if replies[-1][0] >= 400:
                    return replies + [(503, b"5.5.1 not sent after a refusal")] * (3 - len(replies))
            return replies
        assert self._sock is not None and self._replies is not None  # opened by _open
        if not written_ahead:
            self._step("MAIL", self._sock.sendall, _written(commands))
        return [self._step(stage, self._replies.read) for stage, _ in commands]

    def _ahead_of(self, smtp: smtplib.SMTP, then: Envelope | None) -> tuple[Envelope, bytes] | None:
        """`then` and its envelope's commands as written, if they may go ahead: the server pipelines, and would
        take its addresses."""
        if then is None or not smtp.has_extn("pipelining") or not (addresses := then[0] + then[1]).isprintable():
            return None
        utf8 = not addresses.isascii()
        if utf8 and not smtp.has_extn("smtputf8"):
            return None
        return then, _written(_commands(*then, utf8))

    def _content(self, pieces: list[bytes], ahead: tuple[Envelope, bytes] | None) -> tuple[int, bytes]:
        """Send a dot-stuffed message and the terminator (and the next envelope after it, `ahead`), then read
        the reply."""
        assert self._sock is not None and self._replies is not None  # opened by _open
        if ahead is None:
            send_gathered(self._sock, [*pieces, b".\r\n"])
        else:
            send_gathered(self._sock, [*pieces, b".\r\n", ahead[1]])
            self.ahead = ahead[0]
        return self._replies.read()

    def _command(self, command: str) -> tuple[int, bytes]:
        """One command and its reply (UTF-8: an SMTPUTF8 envelope's addresses)."""
        assert self._sock is not None and self._replies is not None  # opened by _open
        self._sock.sendall(f"{command}\r\n".encode())
        return self._replies.read()

    def _step(self, stage: str, command: Callable[..., T], *args: object) -> T:
        try:
            return command(*args)
        except (smtplib.SMTPException, OSError) as error:  # hung up, timed out, or answered garbage
            raise _Dropped(stage, error) from None

    def _open(self) -> smtplib.SMTP:
        if self._smtp is not None and time.monotonic() - self._last_used > IDLE_CHECK_SECONDS:
            try:
                self._command("NOOP")
            except (smtplib.SMTPException, OSError):
                self.close(polite=False)
        if self._smtp is None:
            smtp = self._connect()
            assert smtp.sock is not None  # connected
            use_kernel_timeouts(smtp.sock, self.settings.timeout_seconds)
            self._smtp, self._sock, self._replies = smtp, smtp.sock, ReplyReader(smtp.sock)
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        try:
            if settings.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout_seconds, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
            if smtp.sock is not None and smtp.sock.family in (socket.AF_INET, socket.AF_INET6):
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo_or_helo_if_needed()
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.username:
                smtp.login(settings.username, settings.password or "")
        except smtplib.SMTPAuthenticationError as error:
            # Not the recipient's fault: retried later, and the edition pauses if it goes on.
            raise TransientError(
                f"{self.where} refused the login: {error.smtp_code} {_text(error.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise TransientError(f"cannot connect to {self.where}: {_describe(error)}") from None
        return smtp

    def _refused(self, code: int, reply: bytes | str, after_content: bool = False) -> None:
        """Raise the refusal; end the transaction (RSET) unless the content's reply already ended it, or the
        connection, on a 421 or garbage."""
        text = _text(reply)
        message = f"{self.where} answered {code} {text}".strip()
        if code == 421 or not 400 <= code < 600:  # 421: the server is closing this connection
            self.close(polite=False)
        elif not after_content:
            self._reset()
        if code >= 500:
            match = _ENHANCED_CODE.match(text)
            raise PermanentError(message, code=code, enhanced=match.group(0) if match else "")
        raise TransientError(message)

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._command("RSET")
        except (smtplib.SMTPException, OSError):
            self.close(polite=False)

    def _lost(self, dropped: _Dropped) -> TransientError:
        return TransientError(f"connection to {self.where} lost at {dropped.stage}: {_describe(dropped.error)}")


class SmtpPool:
    """Up to `pool_size` connections used by as many threads at once, sharing one rate limit.

    A send takes a free slot and the most recently used idle connection (the likeliest to be alive)
    without a Python-level lock: the slots are a SimpleQueue (it blocks in C) and the idle connections a
    deque (append and pop are atomic), where a BoundedSemaphore and a Lock cost every message several
    Python-level lock round trips."""

    def __init__(self, settings: SmtpConfig) -> None:
        self.settings = settings
        self.parallelism = settings.pool_size
        self.rate = RateLimiter(settings.rate_per_second)
        self._write_ahead = self.rate.interval * settings.pool_size <= AHEAD_WAIT_SECONDS
        self._slots: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(settings.pool_size):
            self._slots.put(None)
        self._idle: deque[SmtpConnection] = deque()
        self._all: list[SmtpConnection] = []
        self._lock = threading.Lock()  # only for opening and closing the pool's connections
        self._local = threading.local()  # .held: this thread's connection with an envelope written ahead

    def send(
        self, sender: str, recipient: str, pieces: list[bytes], dot_safe: bool = False, then: Envelope | None = None
    ) -> None:
        """Send one message. `then`: the envelope of the message this thread sends next. When it was written
        ahead, the connection (and its slot) stay this thread's until that message is sent."""
        self.rate.acquire()
        connection = self._held()
        if connection is None:
            self._slots.get()
            connection = self._checkout()
        try:
            connection.send(sender, recipient, pieces, dot_safe, then if self._write_ahead else None)
        finally:
            if connection.ahead is not None:
                self._local.held = connection
            else:
                self._idle.append(connection)
                self._slots.put(None)

    def written_ahead(self) -> Envelope | None:
        """The envelope this thread's last send wrote ahead: that message must be the thread's next."""
        held = getattr(self._local, "held", None)
        return held.ahead if held is not None else None

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
            self._idle.clear()
        for connection in connections:
            connection.close()

    def _held(self) -> SmtpConnection | None:
        connection, self._local.held = getattr(self._local, "held", None), None
        return connection

    def _checkout(self) -> SmtpConnection:
        try:
            return self._idle.pop()
        except IndexError:  # fewer connections than slots so far: one more, opened on first use
            connection = SmtpConnection(self.settings)
            with self._lock:
                self._all.append(connection)
            return connection


def send_gathered(sock: socket.socket, pieces: list[bytes]) -> None:
    """Send the pieces in order with gathering writes (sendmsg): a message goes out without first being joined
    into one ~100 KB copy, and its terminator in the same system call. The kernel may take part of what is
    offered; the rest is offered again. TLS sockets have no sendmsg: they get one joined write."""
    if isinstance(sock, ssl.SSLSocket):
        sock.sendall(b"".join(pieces))
        return
    sent = sock.sendmsg(pieces)
    if sent < sum(map(len, pieces)):  # rare: the kernel took part (a full send buffer)
        _send_rest(sock, pieces, sent)


def _send_rest(sock: socket.socket, pieces: list[bytes], sent: int) -> None:
    """Offer again what follows the first `sent` bytes of the pieces, until the kernel has taken it all."""
    views = [memoryview(piece) for piece in pieces if piece]
    first = 0
    while first < len(views):
        while first < len(views) and sent >= len(views[first]):
            sent -= len(views[first])
            first += 1
        if first < len(views):
            if sent:
                views[first] = views[first][sent:]
            sent = sock.sendmsg(views[first:])


def dot_stuffed(message: bytes) -> bytes:
    """The message as DATA carries it (RFC 5321, 4.5.2): a line that starts with "." gets another, and
    the last line ends with CRLF."""
    if message.startswith(b".") or DOT_AFTER_NEWLINE.search(message):
        message = DOT_AT_LINE_START.sub(b"..", message)
    return message if message.endswith(b"\r\n") else message + b"\r\n"


def _commands(sender: str, recipient: str, utf8: bool) -> list[tuple[str, str]]:
    """A message's envelope as (stage, command) pairs; `utf8`: an internationalised address (RFC 6531)."""
    mail = f"MAIL FROM:<{sender}>" + (" SMTPUTF8" if utf8 else "")
    return [("MAIL", mail), ("RCPT", f"RCPT TO:<{recipient}>"), ("DATA", "DATA")]


def _written(commands: list[tuple[str, str]]) -> bytes:
    return "".join(f"{command}\r\n" for _, command in commands).encode()  # UTF-8 only with SMTPUTF8


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(error: BaseException) -> str:
    if isinstance(error, BlockingIOError):  # the kernel's send timeout (smtp_reply.use_kernel_timeouts)
        return "timed out"
    return str(error) or type(error).__name__
