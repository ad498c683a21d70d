"""SMTP replies (RFC 5321, 4.2) read straight off a connection's socket, and the socket's time limits.

smtplib reads a reply through a buffered file over the socket, a line at a time in Python; a worker reads four
replies for every message it sends. This reader takes whatever the server has sent in one ``recv`` (pipelined
replies arrive together) and splits it itself. Everything it reads is bounded: a line, and the lines of one
reply.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import struct

MAX_LINE = 8192  # as smtplib: eight times RFC 5321's 512 octets
MAX_LINES = 100  # of one reply (an EHLO reply has one per extension)


class ReplyReader:
    """The replies of one connection, in order."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def read(self) -> tuple[int, bytes]:
        """The next reply's code and its text (the lines of a multi-line reply joined by "\\n"), as smtplib's
        getreply gives them; -1 for a reply whose code is not a number."""
        lines = []
        while len(lines) < MAX_LINES:
            line = self._line()
            lines.append(line[4:].strip(b" \t\r\n"))
            if not line[:3].isdigit():
                return -1, b"\n".join(lines)
            if line[3:4] != b"-":
                return int(line[:3]), b"\n".join(lines)
        raise smtplib.SMTPResponseException(500, f"more than {MAX_LINES} lines in one reply")

    def _line(self) -> bytes:
        end = self.buffer.find(b"\n")
        while end < 0:
            if len(self.buffer) > MAX_LINE:
                raise smtplib.SMTPResponseException(500, "Line too long.")
            chunk = _received(self.sock)
            if not chunk:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            self.buffer += chunk
            end = self.buffer.find(b"\n")
        if end >= MAX_LINE:
            raise smtplib.SMTPResponseException(500, "Line too long.")
        line, self.buffer = self.buffer[: end + 1], self.buffer[end + 1 :]
        return line


def _received(sock: socket.socket) -> bytes:
    try:
        return sock.recv(MAX_LINE)
    except BlockingIOError:  # the kernel's receive timeout (see use_kernel_timeouts)
        raise TimeoutError("timed out") from None


def use_kernel_timeouts(sock: socket.socket, seconds: float) -> None:
    """Let the kernel time out a plain TCP socket's reads and writes (SO_RCVTIMEO, SO_SNDTIMEO) instead of
    Python: a socket with a Python timeout polls before every read and write, two system calls where one
    does, and each lets another thread take the interpreter. Sends then raise BlockingIOError and reads
    (through ReplyReader) TimeoutError when the time is up. A TLS socket keeps Python's timeout."""
    if isinstance(sock, ssl.SSLSocket) or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    whole, fraction = divmod(seconds, 1)
    # struct timeval; all zeros would mean no limit at all, so never less than a microsecond
    limit = struct.pack("ll", int(whole), max(int(fraction * 1_000_000), 0 if whole else 1))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
    sock.settimeout(None)
