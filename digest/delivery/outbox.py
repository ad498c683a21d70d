"""The outbox transport: each message an .eml file in a folder, for a first run and for tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from digest.delivery.envelope import Envelope


class OutboxTransport:
    """Writes each message to its own .eml file, atomically (temp file, then rename)."""

    parallelism = 1

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(
        self, sender: str, recipient: str, pieces: list[bytes], dot_safe: bool = False, then: Envelope | None = None
    ) -> None:
        """Write one message; `then` (the next message's envelope) means nothing to a folder."""
        hashed = hashlib.sha256()
        for piece in pieces:
            hashed.update(piece)
        digest = hashed.hexdigest()[:16]
        final = self.folder / f"{outbox_file_stem(recipient)}-{digest}.eml"
        temporary = final.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.writelines(pieces)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(final)

    def written_ahead(self) -> None:
        return None

    def close(self) -> None:
        return None


def outbox_file_stem(recipient: str) -> str:
    """How a recipient's address begins the names of their messages' files."""
    return "".join(c if c.isalnum() or c in "@._-" else "_" for c in recipient)
