"""The next message's envelope written with a message's content (RFC 2920, 3.1): what a server sees, what
happens when the connection drops or the content is refused in between, and a worker sending that way.

The server here answers the end of a message only once it has read the command after it, as a pipelining
server may (smtp-sink answers a group when its input runs dry). A client that waits for that answer before
writing the next envelope waits until it times out."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy import select

from digest.config import SmtpConfig
from digest.delivery.errors import PermanentError
from digest.delivery.smtp_pool import SmtpPool
from digest.models import Delivery
from tests.delivery_helpers import drain, queue_edition, smtp_runtime_for
from tests.smtpserver import free_port

SENDER = "digest@example.org"
BODY = b"Subject: hello\r\n\r\nbody\r\n"


@dataclass
class Conversation:
    """What the server read, by connection (1, 2, …): every command line, and every message it took."""

    commands: list[tuple[int, str]] = field(default_factory=list)
    messages: list[tuple[int, str, bytes]] = field(default_factory=list)  # (connection, recipient, data)
    abandoned: list[tuple[int, str, bytes]] = field(default_factory=list)  # content cut off by a hang-up

    def recipients(self) -> list[str]:
        return [recipient for _, recipient, _ in self.messages]


@contextmanager
def lazy_server(
    end_reply: Callable[[str], bytes] = lambda recipient: b"250 2.0.0 queued",
    hang_up_after: str | None = None,
    answer_at_once: Callable[[str], bool] = lambda recipient: False,
) -> Iterator[tuple[int, Conversation]]:
    """A pipelining SMTP server, one connection after another. It answers a message's end (`end_reply` of its
    recipient) only when the next command has arrived, unless `answer_at_once(recipient)`; after answering the
    end of `hang_up_after`'s message it hangs up."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    seen = Conversation()

    def converse(number: int, stream: BinaryIO) -> None:
        def reply(text: bytes) -> None:
            stream.write(text + b"\r\n")
            stream.flush()

        reply(b"220 lazy")
        recipient, pending = "", b""
        while line := stream.readline():
            command = line.decode().rstrip("\r\n")
            seen.commands.append((number, command))
            if pending:
                reply(pending)
                pending = b""
            upper = command.upper()
            if upper.startswith("EHLO"):
                reply(b"250-lazy\r\n250-PIPELINING\r\n250 SMTPUTF8")
            elif upper.startswith("RCPT"):
                recipient = command.split("<", 1)[1].rstrip(">")
                reply(b"250 2.1.5 ok")
            elif upper == "DATA":
                data, ended = _content(stream, reply)
                if not ended:
                    seen.abandoned.append((number, recipient, data))
                    return
                seen.messages.append((number, recipient, data))
                if answer_at_once(recipient):
                    reply(end_reply(recipient))
                else:
                    pending = end_reply(recipient)
                if recipient == hang_up_after:
                    if pending:
                        reply(pending)
                    return
            elif upper == "QUIT":
                reply(b"221 bye")
                return
            else:  # MAIL, RSET, NOOP
                reply(b"250 ok")

    def serve() -> None:
        number = 0
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the listener was shut down
                return
            number += 1
            connection.settimeout(10)
            with contextlib.suppress(OSError), connection, connection.makefile("rwb") as stream:
                converse(number, stream)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        with contextlib.suppress(OSError):  # wakes a thread blocked in accept() (close alone does not)
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        server.join(timeout=15)
    assert not server.is_alive()


def _content(stream: BinaryIO, reply: Callable[[bytes], None]) -> tuple[bytes, bool]:
    """Invite a message's content and read it: what came, and whether its end did (not a hang-up)."""
    data = b""
    try:
        reply(b"354 go on")
        while (line := stream.readline()) != b".\r\n":
            if not line:
                return data, False
            data += line
    except OSError:  # a client that hangs up with replies unread resets the connection
        return data, False
    return data, True


def pool_on(port: int) -> SmtpPool:
    return SmtpPool(SmtpConfig(port=port, pool_size=1, timeout_seconds=2))


def test_the_next_envelope_goes_out_with_the_content_on_the_same_connection() -> None:
    with lazy_server(answer_at_once=lambda recipient: recipient == "b@example.org") as (port, seen):
        pool = pool_on(port)
        pool.send(SENDER, "a@example.org", [BODY], dot_safe=True, then=(SENDER, "b@example.org"))
        assert pool.written_ahead() == (SENDER, "b@example.org")
        pool.send(SENDER, "b@example.org", [BODY], dot_safe=True)
        assert pool.written_ahead() is None
        pool.close()
    assert seen.messages == [(1, "a@example.org", BODY), (1, "b@example.org", BODY)]
    assert [command for _, command in seen.commands[1:]] == [
        f"MAIL FROM:<{SENDER}>", "RCPT TO:<a@example.org>", "DATA",
        f"MAIL FROM:<{SENDER}>", "RCPT TO:<b@example.org>", "DATA",
        "QUIT",
    ]  # fmt: skip


def test_a_drop_after_a_message_sends_the_next_afresh_at_once() -> None:
    with lazy_server(hang_up_after="a@example.org", answer_at_once=lambda recipient: recipient == "b@example.org") as (
        port,
        seen,
    ):
        pool = pool_on(port)
        pool.send(SENDER, "a@example.org", [BODY], dot_safe=True, then=(SENDER, "b@example.org"))
        pool.send(SENDER, "b@example.org", [BODY], dot_safe=True)  # nothing of it had been taken: not an error
        pool.close()
    assert seen.messages == [(1, "a@example.org", BODY), (2, "b@example.org", BODY)]


def test_a_refused_content_leaves_the_next_message_whole() -> None:
    """After the content's refusal the transaction is over: no RSET, which would land in the next content."""
    refusal = b"554 5.7.1 looks like spam"
    with lazy_server(
        end_reply=lambda recipient: refusal if recipient == "a@example.org" else b"250 ok",
        answer_at_once=lambda recipient: recipient == "b@example.org",
    ) as (port, seen):
        pool = pool_on(port)
        with pytest.raises(PermanentError, match=r"554 5\.7\.1 looks like spam"):
            pool.send(SENDER, "a@example.org", [BODY], dot_safe=True, then=(SENDER, "b@example.org"))
        pool.send(SENDER, "b@example.org", [BODY], dot_safe=True)
        pool.close()
    assert seen.messages[1] == (1, "b@example.org", BODY)
    assert "RSET" not in [command for _, command in seen.commands]


def test_another_message_than_the_one_announced_hangs_up_the_announced_one() -> None:
    with lazy_server(answer_at_once=lambda recipient: recipient == "c@example.org") as (port, seen):
        pool = pool_on(port)
        pool.send(SENDER, "a@example.org", [BODY], dot_safe=True, then=(SENDER, "b@example.org"))
        pool.send(SENDER, "c@example.org", [BODY], dot_safe=True)
        pool.close()
    assert seen.messages == [(1, "a@example.org", BODY), (2, "c@example.org", BODY)]
    # b's envelope went out on the first connection (the server read it to answer a); b's content never came
    assert seen.commands.count((1, f"MAIL FROM:<{SENDER}>")) == 2
    assert all(data == b"" for _, _, data in seen.abandoned)


def test_closing_with_an_envelope_written_ahead_hangs_up_instead_of_quitting() -> None:
    """QUIT after a DATA the server accepted would be read as content."""
    with lazy_server() as (port, seen):
        pool = pool_on(port)
        pool.send(SENDER, "a@example.org", [BODY], dot_safe=True, then=(SENDER, "b@example.org"))
        pool.close()
    assert seen.recipients() == ["a@example.org"]
    assert seen.commands.count((1, f"MAIL FROM:<{SENDER}>")) == 2
    assert all(data == b"" for _, _, data in seen.abandoned)  # not b"QUIT\r\n"


@pytest.mark.parametrize("recipient", ["b@example.org\r\nRSET", "b@example.org\nRSET", "b@exa\x00mple.org"])
def test_an_envelope_that_could_break_the_command_is_not_written_ahead(recipient: str) -> None:
    with lazy_server(answer_at_once=lambda recipient: True) as (port, seen):
        pool = pool_on(port)
        pool.send(SENDER, "a@example.org", [BODY], dot_safe=True, then=(SENDER, recipient))
        assert pool.written_ahead() is None
        with pytest.raises(PermanentError, match="not a mailbox"):
            pool.send(SENDER, recipient, [BODY], dot_safe=True)
        pool.close()
    assert [command for _, command in seen.commands].count(f"MAIL FROM:<{SENDER}>") == 1  # a's alone
    assert "RSET" not in [command for _, command in seen.commands]


def test_under_a_slow_rate_limit_no_envelope_is_written_ahead() -> None:
    """At 0.02 messages a second the next message would leave the server waiting 50 s for its content."""
    with lazy_server(answer_at_once=lambda recipient: True) as (port, seen):
        pool = SmtpPool(SmtpConfig(port=port, pool_size=1, timeout_seconds=2, rate_per_second=0.02))
        pool.send(SENDER, "a@example.org", [BODY], dot_safe=True, then=(SENDER, "b@example.org"))
        assert pool.written_ahead() is None
        pool.close()
    assert seen.commands.count((1, f"MAIL FROM:<{SENDER}>")) == 1 and seen.abandoned == []


def test_a_worker_writes_each_next_envelope_with_the_content(write_config: Callable[..., Path]) -> None:
    """One connection, eight messages: each end is answered only when the next envelope arrives, the last at
    once. A worker that waited for each answer first would time out on the first message."""
    edition_id, readers = None, []
    with lazy_server(answer_at_once=lambda recipient: recipient == readers[-1]) as (port, seen):
        runtime = smtp_runtime_for(write_config, port, smtp={"pool_size": 1, "timeout_seconds": 2})
        edition_id, readers = queue_edition(runtime, 8)
        readers.sort()  # the ledger sends in id order, and the readers were added in this order
        stats = drain(runtime).stats
    assert stats.sent == 8 and stats.retried == 0
    assert sorted(seen.recipients()) == readers and {number for number, _, _ in seen.messages} == {1}
    with runtime.sessions() as session:
        attempts = session.scalars(select(Delivery.attempts).where(Delivery.edition_id == edition_id)).all()
    assert attempts == [1] * 8


def test_a_message_whose_envelope_went_out_ahead_is_sent_even_at_the_pause_threshold(
    write_config: Callable[..., Path],
) -> None:
    """Every content refused with 451, three failures in a row pause the edition. The third message's content
    carried the fourth's envelope (its edition then two failures in), so the fourth is tried too; the rest of
    the batch goes back to the queue untried."""
    refused = b"451 4.3.0 try again later"
    with lazy_server(end_reply=lambda recipient: refused, answer_at_once=lambda recipient: True) as (port, seen):
        runtime = smtp_runtime_for(
            write_config, port, smtp={"pool_size": 1}, delivery={"pause_after_failures": 3, "batch_size": 10}
        )
        edition_id, _ = queue_edition(runtime, 10)
        stats = drain(runtime).stats
    assert stats.paused_editions == [edition_id] and stats.sent == 0
    assert len(seen.messages) == 4 and seen.abandoned == []
    with runtime.sessions() as session:
        attempts = session.scalars(select(Delivery.attempts).where(Delivery.edition_id == edition_id)).all()
    assert sorted(attempts, reverse=True) == [1] * 4 + [0] * 6
