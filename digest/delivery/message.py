"""The email message of an edition: serialised once, then only the per-recipient slots change.

The frozen HTML and text are quoted-printable encoded once, split at the renderer's placeholder
markers. Each slot starts and ends on a soft line break (``=`` CRLF), so a recipient's value is
encoded on lines of its own and the static lines around it stay byte-for-byte the same: a
message is the cached segments and a few short per-recipient pieces (To, Date, Message-ID,
List-Unsubscribe and the placeholders of both parts), handed to the transport as those pieces: over
SMTP they go out in gathered writes, never joined into one copy of the whole message.

No line of a built message starts with "." (see ``_no_leading_dots``) and it ends with CRLF: it is
"dot-safe", sent over SMTP as it stands, without a dot-stuffing pass (``SmtpPool.send(dot_safe=True)``).
"""

from __future__ import annotations

import html
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import quoprimime
from email.utils import format_datetime
from urllib.parse import urlsplit

from digest.analytics.links import DELIVERY_MARKER, delivery_tag
from digest.delivery.dkim import DkimSigner
from digest.delivery.headers import address_header, header, token_header
from digest.delivery.message_id import new_message_id, sender_domain
from digest.models import Edition
from digest.rendering.i18n import translations
from digest.rendering.placeholders import PLACEHOLDERS
from digest.subscribers.tokens import make_token

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"
# RFC 8058 one-click unsubscribe: only over https (a POST over http could be replayed or rewritten).
ONE_CLICK = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
_SPACE_RUNS = re.compile(r"  +")
# Encoded lines are at most 73 characters: 2 more when a leading "." becomes "=2E", 1 more for the soft
# break after a segment, and still within RFC 2045's 76.
QP_LINE = 73
CLICK_SLOT = "click_delivery"  # the per-delivery token of tracked links (digest.analytics.links)
_SLOT_NAMES = {key: (f"text:{key}", f"html:{key}") for key in (*PLACEHOLDERS, CLICK_SLOT)}


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

    @property
    def one_click(self) -> bool:
        """Whether List-Unsubscribe-Post may be offered: the link must be https (RFC 8058, section 3.1)."""
        return self.base_url.startswith("https://")


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
        sign: DkimSigner | None = None,
        unsubscribe_mailbox: str | None = None,
        language: str = "en",
        body: tuple[str, str] | None = None,
    ) -> None:
        """`body` is the (html, text) of the edition in `language` when that is not the site's
        (edition_renderings); without it the edition's own frozen HTML and text."""
        if not edition.html or not edition.text:
            raise ValueError(f"edition {edition.id} has not been frozen (rendered) yet")
        html_part, text_part = body or (edition.html, edition.text)
        self.edition_id = edition.id
        self.sender = sender
        self.links = links
        self.domain = sender_domain(sender)
        self.list_id = f"{list_name} <{_list_id_label(list_name)}.{self.domain}>"
        self.sign = sign
        self.tags_clicks = DELIVERY_MARKER in html_part  # analytics.per_subscriber: links name the delivery
        self.unsubscribe_mailbox = unsubscribe_mailbox
        # Translators: stands for the name in the email's greeting ("Dear %(name)s,") when a subscriber gave none.
        self.nameless = translations(language).gettext("reader")
        self.segments = self._template(subject_prefix + edition.subject, text_part, html_part)

    def new_message_id(self) -> str:
        """A Message-ID never used before, for one message."""
        return new_message_id(self.domain)

    def build(self, recipient: Recipient, message_id: str, delivery_id: int = 0) -> bytes:
        """The complete message for one recipient, CRLF line endings, DKIM-signed when configured
        (`delivery_id` names the delivery in per-subscriber click links; 0 for a test copy)."""
        return b"".join(self.pieces(recipient, message_id, delivery_id))

    def pieces(self, recipient: Recipient, message_id: str, delivery_id: int = 0) -> list[bytes]:
        """The message of `build` as the pieces it joins from, in order (a transport sends them as they are)."""
        unsubscribe = self.links.unsubscribe_url(recipient.uid)
        values = {
            "name": recipient.name or self.nameless,
            "unsubscribe_url": unsubscribe,
            "preferences_url": self.links.preferences_url(recipient.uid),
        }
        if self.tags_clicks:
            values[CLICK_SLOT] = delivery_tag(self.links.secret_key, self.edition_id, delivery_id)
        pieces: dict[str, bytes] = {
            "to": to_header(recipient.name, recipient.email),
            "date": _date_header(),
            "message_id": token_header("Message-ID", message_id),
            "list_unsubscribe": token_header("List-Unsubscribe", self.list_unsubscribe(unsubscribe)),
        }
        for key, value in values.items():
            text_name, html_name = _SLOT_NAMES[key]
            pieces[text_name] = qp_slot(value)
            escaped = html.escape(value, quote=True)
            # A link or a plain name is the same in HTML: encoded once for both parts.
            pieces[html_name] = pieces[text_name] if escaped == value else qp_slot(escaped)
        parts = [pieces[part] if part.__class__ is Slot else part for part in self.segments]
        if not self.sign:
            return parts
        message = b"".join(parts)
        # The body is built in relaxed canonical form (_qp, qp_slot): the signer hashes it as it is.
        return [self.sign.headers(message, canonical_body=True), message]

    def list_unsubscribe(self, unsubscribe_url: str) -> str:
        """The link, and the mailbox as a second way when there is one (RFC 2369)."""
        if not self.unsubscribe_mailbox:
            return f"<{unsubscribe_url}>"
        return f"<{unsubscribe_url}>, <mailto:{self.unsubscribe_mailbox}?subject=unsubscribe>"

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
            *([ONE_CLICK] if self.links.one_click else []),
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
    by_marker = {marker: key for key, marker in PLACEHOLDERS.items()} | {DELIVERY_MARKER: CLICK_SLOT}
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
    if value.isascii() and value.isprintable() and "=" not in value and "  " not in value:
        # Printable ASCII without "=" (nor a run of spaces, see _qp) encodes as itself: only the line length
        # needs soft breaks.
        raw = value.encode("ascii")
        return _no_leading_dots(SOFT_BREAK.join(raw[start : start + QP_LINE] for start in range(0, len(raw), QP_LINE)))
    return _qp(value)


def _qp(text: str) -> bytes:
    """Quoted-printable, dot-safe, and already in DKIM's relaxed canonical form: the second space of a run
    and every tab are encoded (=20, =09), so a signer hashes the body as it is, without rewriting it."""
    if not text:
        return b""
    spaced = ("  " in text or "\t" in text) and "\x00" not in text and "\x01" not in text
    if spaced:  # NUL and SOH stand in for them: the encoder writes =00 and =01, the same length as =20, =09
        text = _SPACE_RUNS.sub(lambda run: " " + "\x00" * (len(run.group()) - 1), text).replace("\t", "\x01")
    encoded = quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), maxlinelen=QP_LINE, eol="\r\n")
    if spaced:
        encoded = encoded.replace("=00", "=20").replace("=01", "=09")
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
