"""The email message of an edition: serialised once, then only the per-recipient slots change.

The frozen HTML and text are quoted-printable encoded once, split at the renderer's placeholder
markers. Each slot starts and ends on a soft line break (``=`` CRLF), so a recipient's value is
encoded on lines of its own and the static lines around it stay byte-for-byte the same: a
message is a ``b"".join`` of the cached segments and a few short per-recipient pieces (To,
Date, Message-ID, List-Unsubscribe and the placeholders of both parts).
"""

from __future__ import annotations

import html
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import quoprimime
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from digest.delivery.headers import address_header, header, token_header
from digest.delivery.message_id import edition_message_id, sender_domain
from digest.delivery.verp import ReturnPath
from digest.models import Edition
from digest.rendering.render import PLACEHOLDERS
from digest.subscribers.tokens import make_token

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"
# Encoded lines are at most 73 characters: 2 more when a leading "." becomes "=2E", 1 more for the soft
# break after a segment, and still within RFC 2045's 76.
QP_LINE = 73


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None
    uid: str  # the subscriber's random uid, carried by the signed links


@dataclass(frozen=True)
class SiteLinks:
    base_url: str
    secret_key: str

    def unsubscribe_url(self, uid: str) -> str:
        return f"{self.base_url}/unsubscribe/{make_token(self.secret_key, 'unsubscribe', uid)}"

    def preferences_url(self, uid: str) -> str:
        return f"{self.base_url}/preferences/{make_token(self.secret_key, 'preferences', uid)}"


class Slot(str):
    """The name of a per-recipient piece inside a message template."""


Segment = bytes | Slot


class EditionMessage:
    """An edition's frozen HTML and text, ready to address to one subscriber after another."""

    def __init__(
        self,
        edition: Edition,
        sender: str,
        list_name: str,
        links: SiteLinks,
        subject_prefix: str = "",
        sign: Callable[[bytes], bytes] | None = None,
        return_path: ReturnPath | None = None,
    ) -> None:
        if not edition.html or not edition.text:
            raise ValueError(f"edition {edition.id} has not been frozen (rendered) yet")
        self.edition_id = edition.id
        self.sender = sender
        self.links = links
        self.domain = sender_domain(sender)
        self.list_id = f"{list_name} <{_list_id_label(list_name)}.{self.domain}>"
        self.sign = sign
        self.return_path = return_path
        self.segments = self._template(subject_prefix + edition.subject, edition.text, edition.html)

    def envelope_sender(self, delivery_id: int | None = None) -> str:
        """Where bounces of this delivery go (mail.return_path, with a VERP token when mail.verp is on)."""
        if self.return_path is None:
            return parseaddr(self.sender)[1]
        return self.return_path.for_delivery(delivery_id)

    def message_id(self, delivery_id: int) -> str:
        return edition_message_id(self.edition_id, delivery_id, self.domain)

    def build(self, recipient: Recipient, delivery_id: int) -> bytes:
        """The complete message for one recipient, CRLF line endings, DKIM-signed when configured."""
        unsubscribe = self.links.unsubscribe_url(recipient.uid)
        values = {
            "name": recipient.name or "reader",
            "unsubscribe_url": unsubscribe,
            "preferences_url": self.links.preferences_url(recipient.uid),
        }
        pieces: dict[str, bytes] = {
            "to": to_header(recipient.name, recipient.email),
            "date": _date_header(),
            "message_id": token_header("Message-ID", self.message_id(delivery_id)),
            "list_unsubscribe": token_header("List-Unsubscribe", f"<{unsubscribe}>"),
        }
        for key, value in values.items():
            pieces[f"text:{key}"] = qp_slot(value)
            pieces[f"html:{key}"] = qp_slot(html.escape(value, quote=True))
        message = b"".join(pieces[part] if isinstance(part, Slot) else part for part in self.segments)
        return self.sign(message) if self.sign else message

    def _template(self, subject: str, text: str, rich: str) -> list[Segment]:
        boundary = f"=_digest_{secrets.token_hex(12)}"  # "=" never appears bare in quoted-printable
        head: list[Segment] = [
            header("From", self.sender),
            Slot("to"),
            header("Subject", subject),
            Slot("date"),
            Slot("message_id"),
            header("List-Id", self.list_id),
            Slot("list_unsubscribe"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
        ]
        segments = head + _part(boundary, "plain", "text", text) + _part(boundary, "html", "html", rich)
        segments.append(f"--{boundary}--\r\n".encode())
        return _merged(segments)


def _part(boundary: str, subtype: str, slot_prefix: str, body: str) -> list[Segment]:
    head = (
        f"--{boundary}\r\n"
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode()
    return [head, *qp_template(body, slot_prefix), CRLF]


def qp_template(body: str, slot_prefix: str) -> list[Segment]:
    """Quoted-printable segments of the body, with a Slot where each placeholder marker stood."""
    by_marker = {marker: key for key, marker in PLACEHOLDERS.items()}
    segments: list[Segment] = []
    rest = body
    while True:
        found = [(rest.find(marker), marker) for marker in by_marker if marker in rest]
        if not found:
            break
        position, marker = min(found)
        segments += [_qp(rest[:position]), SOFT_BREAK, Slot(f"{slot_prefix}:{by_marker[marker]}"), SOFT_BREAK]
        rest = rest[position + len(marker) :]
    segments.append(_qp(rest))
    return segments


def qp_slot(value: str) -> bytes:
    """A per-recipient value, quoted-printable on lines of its own (the template adds the soft breaks)."""
    if value.isascii() and value.isprintable() and "=" not in value:
        # Printable ASCII without "=" encodes as itself: only the line length needs soft breaks.
        raw = value.encode("ascii")
        return _no_leading_dots(SOFT_BREAK.join(raw[start : start + QP_LINE] for start in range(0, len(raw), QP_LINE)))
    return _qp(value)


def _qp(text: str) -> bytes:
    if not text:
        return b""
    encoded = quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), maxlinelen=QP_LINE, eol="\r\n")
    return _no_leading_dots(encoded.encode("ascii"))


def _no_leading_dots(encoded: bytes) -> bytes:
    """Encode a "." that starts a line: the message then needs no SMTP dot-stuffing at all."""
    if encoded.startswith(b"."):
        encoded = b"=2E" + encoded[1:]
    return encoded.replace(b"\r\n.", b"\r\n=2E")


def _merged(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for segment in segments:
        if not isinstance(segment, Slot) and merged and not isinstance(merged[-1], Slot):
            merged[-1] = merged[-1] + segment
        elif segment != b"":
            merged.append(segment)
    return merged


def to_header(name: str | None, address: str) -> bytes:
    """`To:` for one recipient."""
    return address_header("To", name, address)


_date_cache: tuple[int, bytes] = (0, b"")


def _date_header() -> bytes:
    """`Date:` for now; formatted at most once a second."""
    global _date_cache
    second = int(time.time())
    if _date_cache[0] != second:
        moment = datetime.fromtimestamp(second, UTC)
        _date_cache = (second, f"Date: {format_datetime(moment)}\r\n".encode())
    return _date_cache[1]


def _list_id_label(list_name: str) -> str:
    label = "".join(c.lower() if c.isalnum() else "-" for c in list_name).strip("-")
    while "--" in label:
        label = label.replace("--", "-")
    return label or "digest"


def site_links(base_url: str, secret_key: str) -> SiteLinks:
    parts = urlsplit(base_url)
    return SiteLinks(base_url=f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", secret_key=secret_key)
