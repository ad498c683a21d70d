"""Message-IDs: the one place that knows their format, ``<random@sender's domain>``.

Every message (each delivery of an edition, each test send, each notice) gets a random one (128 bits),
so no two installs, no re-initialised database and no two test sends of one edition ever repeat one
(a mailbox provider drops a message whose Message-ID it has already seen). The ledger keeps each
delivery's on its row, which is how a bounce report is traced back to the delivery.
"""

from __future__ import annotations

import random
from email.utils import getaddresses


def sender_domain(sender: str) -> str:
    """The domain of the From address ("localhost" when it has none)."""
    addresses = getaddresses([sender])
    address = addresses[0][1] if addresses else ""
    return address.rpartition("@")[2] or "localhost"


def new_message_id(domain: str) -> str:
    # Unique, not secret: 128 bits of the random module (seeded from os.urandom in each process, and again
    # after a fork), not a system call per message as secrets would make.
    return f"<{random.getrandbits(128):032x}@{domain}>"


def notice_message_id(domain: str) -> str:
    return new_message_id(domain)
