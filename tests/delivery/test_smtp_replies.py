"""The SMTP connection's own reading and writing: replies read off the socket (split anywhere, several at
once, multi-line, malformed), a server that stops answering, and an envelope no address can break."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from digest.config import SmtpConfig
from digest.delivery.errors import PermanentError, TransientError
from digest.delivery.smtp_pool import SmtpPool
from digest.delivery.smtp_reply import MAX_LINE, ReplyReader, use_kernel_timeouts
from tests.smtpserver import free_port


@contextmanager
def reader_of(data: list[bytes]) -> Iterator[ReplyReader]:
    """A reader on one end of a socket pair; the other end writes `data` chunk by chunk, then hangs up."""
    ours, theirs = socket.socketpair()
    ours.settimeout(10)

    def write() -> None:
        for chunk in data:
            theirs.sendall(chunk)
        theirs.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        yield ReplyReader(ours)
    finally:
        writer.join(timeout=10)
        ours.close()


def test_replies_are_read_in_order_however_the_bytes_arrive() -> None:
    stream = b"250-first\r\n250 last line\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n550 5.1.1 no\r\n"
    expected = [
        (250, b"first\nlast line"),
        (250, b"2.1.5 Ok"),
        (354, b"End data with <CR><LF>.<CR><LF>"),
        (550, b"5.1.1 no"),
    ]
    for cut in (1, 3, 7, 11, 40, len(stream)):
        chunks = [stream[start : start + cut] for start in range(0, len(stream), cut)]
        with reader_of(chunks) as reader:
            assert [reader.read() for _ in expected] == expected, cut


def test_a_reply_whose_code_is_not_a_number_reads_as_minus_one() -> None:
    with reader_of([b"hello there\r\n"]) as reader:
        assert reader.read() == (-1, b"o there")  # as smtplib: the text after the first four characters


def test_a_server_that_hangs_up_mid_reply_is_a_disconnection() -> None:
    with reader_of([b"250-first\r\n250 trunc"]) as reader, pytest.raises(smtplib.SMTPServerDisconnected):
        reader.read()


def test_a_line_without_end_and_a_reply_without_end_are_refused_not_read_forever() -> None:
    with reader_of([b"250 " + b"x" * (MAX_LINE + 10)]) as reader, pytest.raises(smtplib.SMTPResponseException):
        reader.read()
    with reader_of([b"250-more\r\n" * 1000]) as reader, pytest.raises(smtplib.SMTPResponseException):
        reader.read()


def test_the_kernel_times_out_a_read_that_gets_no_answer() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname()) as ours:
        use_kernel_timeouts(ours, 0.2)
        assert ours.gettimeout() is None  # no poll before each read: the kernel keeps the time
        with pytest.raises(TimeoutError, match="timed out"):
            ReplyReader(ours).read()


@contextmanager
def scripted_server(after_hello: bytes | None) -> Iterator[tuple[int, list[bytes]]]:
    """A server that greets, answers EHLO with PIPELINING, then answers what comes next with `after_hello`
    (None: never answers). Yields its port and what it received after EHLO."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    received: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:  # closed without a client: the sender refused before connecting
            return
        with connection:
            connection.settimeout(10)
            connection.sendall(b"220 scripted\r\n")
            connection.recv(1000)
            connection.sendall(b"250-scripted\r\n250 PIPELINING\r\n")
            while not done.is_set():
                try:
                    chunk = connection.recv(65536)
                except TimeoutError:
                    break
                if not chunk:
                    break
                received.append(chunk)
                if after_hello is not None:
                    connection.sendall(after_hello)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()[1], received
    finally:
        done.set()
        # close() alone does not wake a thread blocked in accept() (Linux): shutdown() does, with an error.
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        server.join(timeout=15)
    assert not server.is_alive()


def test_a_server_that_stops_answering_is_a_timeout_and_a_retry_later() -> None:
    with scripted_server(after_hello=None) as (port, _):
        pool = SmtpPool(SmtpConfig(port=port, pool_size=1, timeout_seconds=0.5))
        with pytest.raises(TransientError, match="lost at MAIL: timed out"):
            pool.send("digest@example.org", "reader@example.org", [b"Subject: x\r\n\r\nbody\r\n"], dot_safe=True)
        pool.close()


def test_a_server_that_answers_garbage_is_a_lost_connection_not_a_crash() -> None:
    with scripted_server(after_hello=b"250 " + b"x" * (MAX_LINE + 100) + b"\r\n") as (port, _):
        pool = SmtpPool(SmtpConfig(port=port, pool_size=1, timeout_seconds=5))
        with pytest.raises(TransientError, match=r"lost at MAIL: .*Line too long"):
            pool.send("digest@example.org", "reader@example.org", [b"Subject: x\r\n\r\nbody\r\n"], dot_safe=True)
        pool.close()


@pytest.mark.parametrize("recipient", ["reader@example.org\r\nRCPT TO:<extra@example.net>", "reader@example.org\n"])
def test_an_address_with_a_line_break_never_reaches_the_server(recipient: str) -> None:
    with scripted_server(after_hello=b"250 ok\r\n") as (port, received):
        pool = SmtpPool(SmtpConfig(port=port, pool_size=1, timeout_seconds=5))
        with pytest.raises(PermanentError, match="not a mailbox") as refused:
            pool.send("digest@example.org", recipient, [b"Subject: x\r\n\r\nbody\r\n"], dot_safe=True)
        assert refused.value.hard_bounce  # the address cannot be used: the subscriber is suppressed
        with pytest.raises(PermanentError, match="not a sender's mailbox"):
            pool.send("digest@example.org\r\nDATA", "reader@example.org", [b"x\r\n"], dot_safe=True)
        pool.close()
    assert b"extra@example.net" not in b"".join(received) and b"RCPT" not in b"".join(received)
