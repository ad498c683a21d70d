"""Message-IDs: the one place that knows their format, ``<local-part@sender's domain>``.

An edition's message is ``<edition-E.delivery-D@domain>`` (the ledger writes it in SQL, for a batch at
once, from the same parts); a notice's is ``<notice-RANDOM@domain>``.
"""

from __future__ import annotations

import secrets
from email.utils import getaddresses

_DELIVERY = "\x00delivery\x00"  # stands for the delivery id while the parts are cut out


def sender_domain(sender: str) -> str:
    """The domain of the From address ("localhost" when it has none)."""
    addresses = getaddresses([sender])
    address = addresses[0][1] if addresses else ""
    return address.rpartition("@")[2] or "localhost"


def message_id(local_part: str, domain: str) -> str:
    return f"<{local_part}@{domain}>"


def edition_message_id(edition_id: int, delivery_id: int | str, domain: str) -> str:
    return message_id(f"edition-{edition_id}.delivery-{delivery_id}", domain)


def edition_message_id_parts(edition_id: int, domain: str) -> tuple[str, str]:
    """What comes before and after the delivery id in an edition's Message-ID (for building it in SQL)."""
    prefix, _, suffix = edition_message_id(edition_id, _DELIVERY, domain).partition(_DELIVERY)
    return prefix, suffix


def notice_message_id(domain: str) -> str:
    return message_id(f"notice-{secrets.token_hex(12)}", domain)
