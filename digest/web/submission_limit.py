"""How many submissions one client address may attempt an hour (form and API together).

Every attempt counts, accepted or not, so a robot trying variations is held back as much as one
flooding the queue. Kept in memory, per web process, in a sliding window, like the login limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 3600.0
MAX_CLIENTS = 50_000  # idle clients are forgotten beyond this, rather than growing for ever


class SubmissionLimiter:
    def __init__(self, per_hour: int, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.per_hour = per_hour
        self.window = window
        self.clock = clock
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def attempt(self, client: str) -> int | None:
        """Count one attempt; None when it may go ahead, else the seconds until one more is allowed."""
        now = self.clock()
        with self._lock:
            if len(self._attempts) > MAX_CLIENTS:
                self._attempts = {k: v for k, v in self._attempts.items() if v and v[-1] > now - self.window}
            times = self._attempts.setdefault(client, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.per_hour:
                return max(1, math.ceil(times[0] + self.window - now))
            times.append(now)
            return None
