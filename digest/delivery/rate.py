"""A limit of messages per second, shared by every connection to one SMTP server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Hands out evenly spaced send slots, 1/per_second apart (0 means no limit).

    No burst after an idle spell: any one-second window holds at most per_second + 1 sends.
    Threads wait outside the lock, each for its own slot.
    """

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next_slot = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for the next slot."""
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            slot = max(self._next_slot, now)
            self._next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)
