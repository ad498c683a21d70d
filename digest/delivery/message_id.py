"""Message-IDs: the one place that knows their format, ``<time and random@sender's domain>``.

Every message (each delivery of an edition, each test send, each notice) gets a new one (its millisecond
and 80 random bits),
so no two installs, no re-initialised database and no two test sends of one edition ever repeat one
(a mailbox provider drops a message whose Message-ID it has already seen). The ledger keeps each
delivery's on its row, which is how a bounce report is traced back to the delivery.
"""

from __future__ import annotations

import random
import time
from email.utils import getaddresses


def sender_domain(sender: str) -> str:
    """The domain of the From address ("localhost" when it has none)."""
    addresses = getaddresses([sender])
    address = addresses[0][1] if addresses else ""
    return address.rpartition("@")[2] or "localhost"


def new_message_id(domain: str) -> str:
    """The milliseconds since the epoch (48 bits), then 80 random bits, in hex, as a UUIDv7 orders them:
    unique, and the ledger's Message-ID index takes each new one near the last instead of at a random place
    (fewer pages touched per message sent, on SQLite and PostgreSQL alike)."""
    # Unique, not secret: the random module (seeded from os.urandom in each process, and again after a fork),
    # not a system call per message as secrets would make.
    return f"<{time.time_ns() // 1_000_000:012x}{random.getrandbits(80):020x}@{domain}>"


def notice_message_id(domain: str) -> str:
    return new_message_id(domain)
