"""HTTP fetching with requests: conditional GET, redirects, timeouts, a streamed body cap.

Only http(s) and `sample://NAME` (the bundled demo feeds, a transport adapter on the same Session)
are fetched. Every connection obeys the address policy of sources.netpolicy (`collect.allow_private_addresses`).
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from digest.config import CollectConfig
from sources.netpolicy import AddressPolicy, AddressRefused, CheckedHTTPAdapter
from sources.settings import user_agent

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/calendar;q=0.9, */*;q=0.5"
)
REDIRECT_CODES = (301, 302, 303, 307, 308)
PERMANENT_REDIRECT_CODES = (301, 308)
REMOTE_SCHEMES = ("http", "https")
FETCHED_SCHEMES = (*REMOTE_SCHEMES, "sample")
CHUNK_SIZE = 64 * 1024
KEPT_HEADERS = ("content-type", "content-location", "content-language", "etag", "last-modified")


class FetchError(Exception):
    """A fetch that failed; the message is meant for the person who reads `sources list`."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass
class FetchResult:
    url: str  # the URL the body came from, after redirects
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    permanent_url: str | None = None  # set when every redirect on the way was permanent

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


def build_session(settings: CollectConfig) -> requests.Session:
    """A Session with our headers, the address policy on http(s), and the sample:// adapter mounted."""
    session = requests.Session()
    # No proxies, .netrc or CA bundles from the environment: a proxy would resolve and connect for us,
    # out of reach of the address checks.
    session.trust_env = False
    session.headers.update({"User-Agent": user_agent(settings), "Accept": ACCEPT})
    session.max_redirects = settings.max_redirects
    policy = AddressPolicy.from_settings(settings.allow_private_addresses, settings.allowed_networks)
    http = CheckedHTTPAdapter(policy, pool_connections=4, pool_maxsize=4, max_retries=0)
    session.mount("http://", http)
    session.mount("https://", http)
    session.mount("sample://", SampleAdapter())
    return session


def fetch(
    session: requests.Session,
    url: str,
    settings: CollectConfig,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    now: datetime | None = None,
) -> FetchResult:
    """GET `url` (following at most settings.max_redirects redirects); raise FetchError on failure.

    `now` is the collection's clock: a Retry-After date is measured against it, like the backoff.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in FETCHED_SCHEMES:
        shown = f"{scheme}://" if scheme else "an address without a scheme"
        raise FetchError(f"refused: only http://, https:// and sample:// sources are fetched, not {shown}")
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + settings.total_timeout
    try:
        response, permanent_url = _follow_redirects(session, url, headers, settings)
        try:
            return _read_response(response, permanent_url, settings, deadline, now)
        finally:
            response.close()
    except FetchError:
        raise
    except AddressRefused as refused:
        raise FetchError(str(refused)) from None
    except requests.RequestException as error:
        raise FetchError(describe_request_error(error, settings)) from None
    except OSError as error:
        raise FetchError(f"could not read: {error.strerror or error}") from None


def _follow_redirects(
    session: requests.Session, url: str, headers: dict[str, str], settings: CollectConfig
) -> tuple[requests.Response, str | None]:
    # Redirects are followed by hand: a server must not send us to sample:// (or file://),
    # a redirect body is never read, and only an all-permanent chain moves the stored URL.
    timeout = (settings.connect_timeout, settings.read_timeout)
    current, visited, permanent = url, [url], True
    for _hop in range(settings.max_redirects + 1):
        response = session.get(current, headers=headers, stream=True, timeout=timeout, allow_redirects=False)
        location = response.headers.get("location")
        if response.status_code not in REDIRECT_CODES or not location:
            moved = current != url and permanent
            return response, (current if moved else None)
        response.close()
        permanent = permanent and response.status_code in PERMANENT_REDIRECT_CODES
        target = urljoin(current, location.strip())
        if urlsplit(target).scheme.lower() not in REMOTE_SCHEMES:
            raise FetchError(f"refused a redirect to a non-HTTP address: {target[:200]}")
        if target in visited:
            raise FetchError(f"redirect loop: {current} redirects back to {target}")
        visited.append(target)
        current = target
    raise FetchError(f"too many redirects (more than {settings.max_redirects})")


def _read_response(
    response: requests.Response,
    permanent_url: str | None,
    settings: CollectConfig,
    deadline: float,
    now: datetime | None,
) -> FetchResult:
    status = response.status_code
    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    result = FetchResult(url=response.url or "", status=status, headers=kept, permanent_url=permanent_url)
    if status == 304:
        return result
    if status >= 400:
        raise _status_error(response, now)
    if status != 200 and status not in (203, 206):
        raise FetchError(f"unexpected answer: HTTP {status} {_reason(response)}", status=status)
    result.body = _read_capped(response, settings, deadline)
    return result


def _read_capped(response: requests.Response, settings: CollectConfig, deadline: float) -> bytes:
    cap = settings.max_body_bytes
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise FetchError(f"response too large: {format_bytes(int(declared))} (the limit is {format_bytes(cap)})")
    buffer = io.BytesIO()
    read = _chunk_reader(response.raw)
    # read1 returns whatever has arrived (decompressed, at most CHUNK_SIZE), so a body trickling
    # in byte by byte still reaches the deadline check, and a gzip bomb inflates one chunk at a time.
    while chunk := read():
        buffer.write(chunk)
        if buffer.tell() > cap:
            raise FetchError(f"response too large: more than {format_bytes(cap)}")
        if time.monotonic() > deadline:
            raise FetchError(f"download took longer than {format_seconds(settings.total_timeout)}, stopped")
    return buffer.getvalue()


def _chunk_reader(raw: Any) -> Callable[[], bytes]:
    if isinstance(raw, urllib3.BaseHTTPResponse):
        return lambda: _wire_read(raw)
    return lambda: raw.read1(CHUNK_SIZE)


def _wire_read(raw: urllib3.BaseHTTPResponse) -> bytes:
    # Reading urllib3 directly skips requests' exception wrapping; do it here.
    try:
        return raw.read1(CHUNK_SIZE, decode_content=True)
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.ReadTimeout(error) from None
    except urllib3.exceptions.DecodeError as error:
        raise requests.exceptions.ContentDecodingError(error) from None
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.IncompleteRead) as error:
        raise requests.exceptions.ChunkedEncodingError(error) from None
    except urllib3.exceptions.SSLError as error:
        raise requests.exceptions.SSLError(error) from None


def _status_error(response: requests.Response, now: datetime | None) -> FetchError:
    status = response.status_code
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    message = f"HTTP {status} {_reason(response)}"
    if retry_after is not None:
        message += f" (retry after {format_seconds(retry_after)})"
    return FetchError(message, status=status, retry_after=retry_after)


def _reason(response: requests.Response) -> str:
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return (response.reason or "").strip()[:100] or "error"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def describe_request_error(error: requests.RequestException, settings: CollectConfig) -> str:
    """One plain sentence for what went wrong on the wire."""
    cause = error.args[0] if error.args else None
    if isinstance(error, requests.ConnectTimeout):
        return f"could not connect: timed out after {format_seconds(settings.connect_timeout)}"
    if isinstance(error, requests.ReadTimeout) or isinstance(cause, urllib3.exceptions.ReadTimeoutError):
        return f"timed out after {format_seconds(settings.read_timeout)} waiting for the server"
    if isinstance(error, requests.exceptions.SSLError):
        return f"TLS error: {_innermost(error)}"
    if isinstance(error, requests.exceptions.ContentDecodingError):
        return "could not decompress the response (corrupt gzip/deflate data)"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the connection broke while reading the response"
    if isinstance(error, requests.exceptions.InvalidSchema | requests.exceptions.MissingSchema):
        return f"not a feed address this collector can read: {error.request.url if error.request else ''}"
    if isinstance(error, requests.exceptions.InvalidURL):
        return f"invalid URL: {_innermost(error)}"
    if isinstance(error, requests.ConnectionError):
        return _describe_connection_error(error)
    return str(error) or type(error).__name__


def _describe_connection_error(error: requests.ConnectionError) -> str:
    text = _innermost(error)
    lowered = text.lower()
    if "refused" in lowered:
        return "could not connect: connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "resolve" in lowered:
        return "could not connect: host name not found"
    if "remotedisconnected" in lowered or "without response" in lowered:
        return "the server closed the connection without answering"
    return f"could not connect: {text}"


def _innermost(error: BaseException) -> str:
    seen: BaseException = error
    while True:
        nested = getattr(seen, "reason", None) or (seen.args[0] if seen.args else None)
        if not isinstance(nested, BaseException) or nested is seen:
            break
        seen = nested
    return str(seen)[:300] or type(seen).__name__


def format_seconds(seconds: float) -> str:
    return f"{seconds:g} s"


def format_bytes(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MiB"
    if size >= 1024:
        return f"{size / 1024:g} KiB"
    return f"{size} bytes"


# ----------------------------------------------------------------- local transports


class LocalFeedError(requests.RequestException):
    """A sample:// address that names no bundled feed."""


class _LocalAdapter(BaseAdapter):
    def close(self) -> None:
        pass

    @staticmethod
    def respond(
        request: requests.PreparedRequest, stream: io.IOBase, content_type: str, etag: str, modified: str
    ) -> requests.Response:
        response = requests.Response()
        response.request = request
        response.url = request.url or ""
        response.headers = CaseInsensitiveDict(
            {"Content-Type": content_type, "ETag": etag, "Last-Modified": modified}
        )
        if request.headers.get("If-None-Match") == etag:
            stream.close()
            response.status_code, response.reason = 304, "Not Modified"
            response.raw = io.BytesIO(b"")
        else:
            response.status_code, response.reason = 200, "OK"
            response.raw = stream
        return response


class SampleAdapter(_LocalAdapter):
    """Serves `sample://NAME` from sources.samples, rendered for today's date."""

    def send(self, request: requests.PreparedRequest, **_kwargs: object) -> requests.Response:
        from sources import samples

        name = urlsplit(request.url or "").netloc + urlsplit(request.url or "").path
        if name not in samples.SAMPLE_NAMES:
            raise LocalFeedError(
                f"no bundled sample feed {name!r} (there are {', '.join(samples.SAMPLE_NAMES)})",
                request=request,
            )
        today = date.today()
        body = samples.render_sample(name, today)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        modified = format_datetime(datetime(today.year, today.month, today.day, tzinfo=UTC), usegmt=True)
        content_type = samples.sample_content_type(name) + "; charset=utf-8"
        return self.respond(request, io.BytesIO(body), content_type, etag, modified)
