"""A real SMTP server (aiosmtpd) that records what it accepts and can be told to answer some
recipients with 4xx/5xx replies or to drop the connection.

`smtp_server()` runs it in a thread of the test process (optionally with STARTTLS or implicit TLS
and a login); `smtp_server_process()` runs it in a process of its own, appending one JSON line per
accepted message to a file, for tests that kill the worker and must trust what was received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.MULTILINE | re.IGNORECASE)


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    connection: int = 0  # which connection brought it (1, 2, … in the order they were opened)

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    # recipient -> replies to give, one per attempt, before accepting (e.g. ["451 4.3.0 try later"])
    scripted: dict[str, list[str]] = field(default_factory=dict)
    drop_for: dict[str, int] = field(default_factory=dict)  # recipient -> connections to drop first
    # (part of an address, reply): every matching RCPT gets this reply (a server in trouble)
    refuse_matching: tuple[str, str] | None = None
    delay: float = 0.0  # seconds to take over each DATA (a slow server)
    pipelining: bool = True  # offer PIPELINING (RFC 2920), as most servers do
    record_path: Path | None = None  # also append one JSON line per message here
    connections: int = 0
    open_connections: int = 0
    most_open_connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        self._count_connection(session)
        session.host_name = hostname
        return "250 digest-test"

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self._count_connection(session)
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            if self.drop_for.get(address, 0) > 0:
                self.drop_for[address] -= 1
                server.transport.close()  # the server hangs up in the middle of the transaction
                return "421 4.4.2 closing"
            if self.refuse_matching and self.refuse_matching[0] in address:
                return self.refuse_matching[1]
            replies = self.scripted.get(address)
            if replies:
                return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            number = getattr(session, "digest_connection", 0)
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, number)
            )
            if self.record_path is not None:
                found = MESSAGE_ID.search(envelope.original_content.split(b"\r\n\r\n", 1)[0])
                message_id = found.group(1).decode() if found else None
                line = {"recipients": list(envelope.rcpt_tos), "message_id": message_id}
                with open(self.record_path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(line) + "\n")
        return "250 2.0.0 Message accepted"

    def _count_connection(self, session: Session) -> None:
        if getattr(session, "digest_connection", None) is None:
            with self.lock:
                self.connections += 1
                session.digest_connection = self.connections

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.recipients]


class CountingSMTP(SMTP):
    """Counts open connections, to check a client's pool size."""

    def connection_made(self, transport: Any) -> None:
        handler: RecordingHandler = self.event_handler
        with handler.lock:
            handler.open_connections += 1
            handler.most_open_connections = max(handler.most_open_connections, handler.open_connections)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        handler: RecordingHandler = self.event_handler
        with handler.lock:
            handler.open_connections -= 1
        super().connection_lost(error)


class RecordingController(Controller):
    def factory(self) -> SMTP:
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def password_check(users: dict[str, str]) -> Callable[..., AuthResult]:
    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and users.get(data.login.decode()) == data.password.decode()
        return AuthResult(success=ok, handled=False)

    return authenticate


@contextmanager
def smtp_server(
    tls: ssl.SSLContext | None = None,
    implicit_tls: bool = False,
    users: dict[str, str] | None = None,
    smtputf8: bool = False,
) -> Iterator[tuple[RecordingHandler, int]]:
    """The server in a thread. With `tls`: STARTTLS required (or TLS from the start with
    `implicit_tls`); with `users`: AUTH LOGIN/PLAIN required."""
    handler = RecordingHandler()
    port = free_port()
    options: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
    if tls is not None and implicit_tls:
        options["ssl_context"] = tls
    elif tls is not None:
        options |= {"tls_context": tls, "require_starttls": True}
    if users is not None:
        # aiosmtpd knows of STARTTLS only; with TLS from the first byte the session is encrypted all the same
        options |= {"authenticator": password_check(users), "auth_required": True, "auth_require_tls": not implicit_tls}
    controller = RecordingController(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def smtp_server_process(record_path: Path, delay: float = 0.0) -> Iterator[int]:
    """The server in a process of its own (it outlives a killed worker); yields its port.
    Each accepted message is a JSON line {"recipients": [...], "message_id": ...} in record_path."""
    port = free_port()
    record_path.touch()
    command = [sys.executable, "-m", "tests.smtpserver", "--port", str(port), "--record", str(record_path)]
    command += ["--delay", str(delay)]
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(command, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    try:
        wait_for_port(port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def read_record(record_path: Path) -> list[dict[str, Any]]:
    lines = record_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def _serve_forever(port: int, record: Path, delay: float) -> None:
    handler = RecordingHandler(delay=delay, record_path=record)
    controller = RecordingController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--port", type=int, required=True)
    arguments.add_argument("--record", type=Path, required=True)
    arguments.add_argument("--delay", type=float, default=0.0)
    options = arguments.parse_args()
    _serve_forever(options.port, options.record, options.delay)
