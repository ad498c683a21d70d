"""A real HTTP server in a thread for the collector tests: files from tests/sources/testdata/ plus
scripted behaviours (status codes, never answering, redirect loops, endless bodies, gzip bombs,
ETag/304, 429 with Retry-After, charset headers); and a plain static web server for a folder of files."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "sources" / "testdata"
CONTENT_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".ics": "text/calendar",
    ".html": "text/html; charset=utf-8",
    ".rdf": "application/rdf+xml",
}

Behaviour = Callable[["Handler"], None]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class FeedServer:
    root: Path = FIXTURES
    routes: dict[str, Behaviour] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    host: str = "127.0.0.1"  # any 127.x.y.z works on Linux: a second "site" for the address-policy tests

    def start(self) -> FeedServer:
        server = self

        class BoundHandler(Handler):
            feed_server = server

        self.httpd = ThreadingHTTPServer((self.host, 0), BoundHandler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> str:
        self.routes[path] = behaviour
        return self.url(path)

    def requests_for(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]


class Handler(BaseHTTPRequestHandler):
    feed_server: FeedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        server = self.feed_server
        server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
        behaviour = server.routes.get(self.path.split("?")[0])
        if behaviour is not None:
            behaviour(self)
            return
        path = (server.root / self.path.lstrip("/").split("?")[0]).resolve()
        if server.root not in path.parents or not path.is_file():
            send(self, 404, b"not here", "text/plain")
            return
        serve_file(path)(self)

    def write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except OSError:
            return False


def send(
    handler: Handler, status: int, body: bytes, content_type: str | None, headers: dict[str, str] | None = None
) -> None:
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.write(body)


# ------------------------------------------------------------------ behaviours


def body(data: bytes, content_type: str | None = "application/rss+xml", status: int = 200, **headers: str) -> Behaviour:
    def behave(handler: Handler) -> None:
        send(handler, status, data, content_type, {k.replace("_", "-"): v for k, v in headers.items()})

    return behave


def serve_file(path: Path, content_type: str | None = None, *, conditional: bool = True) -> Behaviour:
    """A file with ETag and Last-Modified, answering 304 to a matching conditional request."""

    def behave(handler: Handler) -> None:
        data = path.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        modified = "Wed, 01 Jan 2025 00:00:00 GMT"
        kind = content_type or CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        headers = {"ETag": etag, "Last-Modified": modified} if conditional else {}
        if conditional and handler.headers.get("If-None-Match") == etag:
            send(handler, 304, b"", None, headers)
            return
        send(handler, 200, data, kind, headers)

    return behave


def fixture(name: str, content_type: str | None = None, *, conditional: bool = True) -> Behaviour:
    return serve_file(FIXTURES / name, content_type, conditional=conditional)


def status(code: int, **headers: str) -> Behaviour:
    return body(f"status {code}".encode(), "text/plain", code, **headers)


def never_answers(handler: Handler) -> None:
    """Accepts the connection, reads the request, then says nothing until the server stops."""
    handler.feed_server.stopping.wait(30)


def redirect(target: str, code: int = 302) -> Behaviour:
    return body(b"", "text/plain", code, Location=target)


def endless_body(handler: Handler) -> None:
    """200 with no length and bytes for ever (until the client hangs up)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>endless</title>')
    chunk = b"<item><title>again</title></item>" * 2048
    while not handler.feed_server.stopping.is_set() and handler.write(chunk):
        pass
    handler.close_connection = True


def big_body(size: int) -> Behaviour:
    """A declared Content-Length of `size` bytes, streamed for real."""

    def behave(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        chunk = b" " * 65536
        sent = 0
        while sent < size and handler.write(chunk[: size - sent]):
            sent += len(chunk)

    return behave


def gzip_bomb(decompressed_size: int = 1024 * 1024 * 1024) -> Behaviour:
    """A small gzip body that inflates to `decompressed_size` bytes (a gigabyte by default)."""
    compressed = _bomb(decompressed_size)

    def behave(handler: Handler) -> None:
        send(handler, 200, compressed, "application/rss+xml", {"Content-Encoding": "gzip"})

    return behave


_BOMBS: dict[int, bytes] = {}


def _bomb(size: int) -> bytes:
    if size not in _BOMBS:
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as archive:
            block = b"\0" * (1024 * 1024)
            for _ in range(size // len(block)):
                archive.write(block)
        _BOMBS[size] = out.getvalue()
    return _BOMBS[size]


def gzipped(data: bytes, content_type: str = "application/rss+xml") -> Behaviour:
    return body(gzip.compress(data), content_type, Content_Encoding="gzip")


def slow_trickle(interval: float = 0.05) -> Behaviour:
    """Sends one byte at a time, forever: every read succeeds, the whole never ends."""

    def behave(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Connection", "close")
        handler.end_headers()
        while not handler.feed_server.stopping.is_set() and handler.write(b" "):
            time.sleep(interval)

    return behave


@contextmanager
def running_server(host: str = "127.0.0.1") -> Iterator[FeedServer]:
    server = FeedServer(host=host).start()
    try:
        yield server
    finally:
        server.stop()


class QuietFileHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving_folder(root: Path) -> Iterator[str]:
    """The files under ``root`` served as they are, by a plain static web server in a thread; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietFileHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
