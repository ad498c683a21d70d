"""How sending a message can fail: try again later, or never."""

from __future__ import annotations


class TransientError(Exception):
    """Try again later: a 4xx reply, a dropped connection, a timeout."""


class PermanentError(Exception):
    """Do not try again: a 5xx reply. `code` and `enhanced` carry the server's verdict."""

    def __init__(self, message: str, code: int = 550, enhanced: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.enhanced = enhanced

    @property
    def hard_bounce(self) -> bool:
        """5.1.x: the address itself is bad (no such user, bad domain)."""
        return self.enhanced.startswith("5.1.")
