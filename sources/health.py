"""Per-source health: status, error text, consecutive errors, backoff with jitter and a cap."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from digest.config import CollectConfig
from digest.models import Source


def backoff_seconds(
    consecutive_errors: int,
    settings: CollectConfig,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Exponential in the number of failures, spread by jitter, capped; a Retry-After wins when longer.

    The cap keeps a broken source being retried (never disabled for ever); a server's own
    Retry-After is honoured up to retry_after_cap_seconds.
    """
    exponent = max(0, min(consecutive_errors - 1, 32))
    delay = min(settings.backoff_cap_seconds, settings.backoff_base_seconds * 2**exponent)
    spread = (rng or random).uniform(1 - settings.jitter, 1 + settings.jitter)
    delay = min(settings.backoff_cap_seconds, delay * spread)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.retry_after_cap_seconds))
    return delay


def record_failure(
    source: Source, error: str, now: datetime, settings: CollectConfig, retry_after: float | None = None
) -> None:
    source.last_fetch_at = now
    source.last_status = "error"
    source.last_error = error
    source.consecutive_errors = (source.consecutive_errors or 0) + 1
    delay = backoff_seconds(source.consecutive_errors, settings, retry_after)
    source.next_fetch_at = now + timedelta(seconds=delay)


def success_values(status: str, now: datetime, settings: CollectConfig) -> dict[str, Any]:
    """The Source columns after a fetch that worked ("ok" or "not_modified")."""
    interval = settings.refresh_interval_seconds
    return {
        "last_fetch_at": now,
        "last_status": status,
        "last_error": None,
        "consecutive_errors": 0,
        "next_fetch_at": now + timedelta(seconds=interval) if interval > 0 else None,
    }


def warning_values(warnings: list[str]) -> dict[str, Any]:
    """The Source columns that keep a fetch's warnings (None: there were none)."""
    return {"last_warning": "; ".join(warnings)[:2000] or None}
