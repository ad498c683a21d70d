"""The envelope sender (Return-Path) of every message, and VERP: a token in it naming the delivery.

With ``mail.verp`` each message goes out from ``<local>+<token>@<domain>`` of ``mail.return_path`` (or of the
From address), so a bounce that quotes nothing of the original still names the ledger row it is about. The
token is the delivery id in base 36 and a keyed MAC of it: lower-case letters, digits and one "-", short,
safe in any local part and unchanged when a server lower-cases it; it carries nothing of the subscriber.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import parseaddr

from digest.config import MailConfig

MAC_CHARACTERS = 10  # 50 bits: guessing a token that passes is hopeless
_TOKEN = re.compile(rf"([0-9a-z]{{1,13}})-([a-z2-7]{{{MAC_CHARACTERS}}})")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if not number:
            return digits


def _mac(secret_key: str, id_part: str) -> str:
    digest = hmac.new(secret_key.encode(), b"verp:" + id_part.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:MAC_CHARACTERS]


def delivery_token(secret_key: str, delivery_id: int) -> str:
    id_part = _base36(delivery_id)
    return f"{id_part}-{_mac(secret_key, id_part)}"


def delivery_of_token(secret_key: str, token: str) -> int | None:
    """The delivery a token names, or None when it is not one of ours (forged, cut, or another site's)."""
    found = _TOKEN.fullmatch(token.strip().lower())
    if not found or not hmac.compare_digest(found.group(2), _mac(secret_key, found.group(1))):
        return None
    return int(found.group(1), 36)


@dataclass(frozen=True)
class ReturnPath:
    """Decides the envelope sender of a delivery's message."""

    address: str  # mail.return_path, else the From address
    verp: bool
    secret_key: str

    @classmethod
    def of(cls, mail: MailConfig, secret_key: str) -> ReturnPath:
        return cls(mail.return_path or parseaddr(mail.from_address)[1], mail.verp, secret_key)

    def for_delivery(self, delivery_id: int | None) -> str:
        """The envelope sender for one delivery (None: a test copy or a notice, which no ledger row follows)."""
        if not self.verp or delivery_id is None:
            return self.address
        local, _, domain = self.address.rpartition("@")
        return f"{local}+{delivery_token(self.secret_key, delivery_id)}@{domain}"

    def delivery_in(self, address: str) -> int | None:
        """The delivery a VERP address of ours names ("bounces+TOKEN@domain"), else None."""
        local, at, domain = parseaddr(address)[1].lower().rpartition("@")
        base_local, _, base_domain = self.address.lower().rpartition("@")
        prefix = base_local + "+"
        if not at or domain != base_domain or not local.startswith(prefix):
            return None
        return delivery_of_token(self.secret_key, local[len(prefix) :])
