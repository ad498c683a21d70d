"""Backoff and the collector settings."""

from __future__ import annotations

import random
from types import SimpleNamespace

from sources.health import backoff_seconds
from sources.settings import CollectorSettings

SETTINGS = CollectorSettings(backoff_base_seconds=300, backoff_cap_seconds=6 * 3600, jitter=0.2)


def test_backoff_doubles_within_the_jitter_and_stops_at_the_cap() -> None:
    rng = random.Random(7)
    for errors, nominal in ((1, 300), (2, 600), (3, 1200), (4, 2400), (6, 9600)):
        delay = backoff_seconds(errors, SETTINGS, rng=rng)
        assert nominal * 0.8 <= delay <= nominal * 1.2
    assert backoff_seconds(50, SETTINGS, rng=rng) <= 6 * 3600
    assert backoff_seconds(10_000, SETTINGS, rng=rng) <= 6 * 3600


def test_jitter_spreads_sources_that_failed_together() -> None:
    rng = random.Random(1)
    assert len({round(backoff_seconds(3, SETTINGS, rng=rng)) for _ in range(20)}) > 10


def test_retry_after_wins_when_longer_and_is_itself_capped() -> None:
    assert backoff_seconds(1, SETTINGS, retry_after=7200) == 7200
    assert backoff_seconds(1, SETTINGS, retry_after=1) >= 240
    assert backoff_seconds(1, SETTINGS, retry_after=10**9) == SETTINGS.retry_after_cap_seconds


def test_settings_from_a_mapping_or_a_section() -> None:
    assert CollectorSettings.from_mapping(None) == CollectorSettings()
    settings = CollectorSettings.from_mapping({"concurrency": "4", "read_timeout": 5, "unknown": 1, "jitter": None})
    assert (settings.concurrency, settings.read_timeout, settings.jitter) == (4, 5.0, CollectorSettings().jitter)
    section = SimpleNamespace(model_dump=lambda: {"max_body_bytes": 1024, "user_agent": "Bot/1"})
    assert CollectorSettings.from_mapping(section).max_body_bytes == 1024
    assert CollectorSettings.from_mapping(section).user_agent == "Bot/1"


def test_settings_from_a_runtime_without_a_collect_section(runtime) -> None:
    settings = CollectorSettings.from_runtime(runtime)
    assert settings.replace(user_agent="") == CollectorSettings(user_agent="")
    assert settings.user_agent.startswith("ClusterDigest/") and "+http://digest.test" in settings.user_agent
