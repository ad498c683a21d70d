"""The login rate limit: failed attempts per address and per client address, in a sliding window.

Kept in memory, per process (the web app is one waitress process). Only failures count, and a
successful login clears its address's count, so an editor who mistypes once is never locked out
by their own earlier typos; guessing many passwords, or many accounts from one client, is.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 15 * 60
FAILURES_PER_ADDRESS = 5
FAILURES_PER_CLIENT = 20


@dataclass(frozen=True)
class Refusal:
    reason: str  # "address" | "client"
    retry_after: int  # seconds until one more attempt is allowed

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        if self.reason == "address":
            return (
                f"Too many failed logins for this address. Try again in {wait}, or ask an admin to check the account."
            )
        return f"Too many failed logins from your network. Try again in {wait}."


class LoginLimiter:
    def __init__(
        self,
        per_address: int = FAILURES_PER_ADDRESS,
        per_client: int = FAILURES_PER_CLIENT,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_address = per_address
        self.per_client = per_client
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str, client: str) -> Refusal | None:
        """None when this attempt may go ahead; else why not and for how long."""
        now = self.clock()
        with self._lock:
            for reason, key, limit in (
                ("address", _address_key(address), self.per_address),
                ("client", f"client:{client}", self.per_client),
            ):
                times = self._recent(key, now)
                if len(times) >= limit:
                    return Refusal(reason, int(times[0] + self.window - now) + 1)
        return None

    def failed(self, address: str, client: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > 50_000:  # forget idle keys rather than grow for ever
                self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - self.window}
            for key in (_address_key(address), f"client:{client}"):
                self._recent(key, now).append(now)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(_address_key(address), None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


def _address_key(address: str) -> str:
    return "address:" + hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()
