"""Backoff and the collector settings (the `collect:` configuration section)."""

from __future__ import annotations

import random

from digest.config import CollectConfig
from sources.health import backoff_seconds
from sources.settings import DEFAULT_USER_AGENT, collector_settings, user_agent

SETTINGS = CollectConfig(backoff_base_seconds=300, backoff_cap_seconds=6 * 3600, jitter=0.2)


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


def test_the_collectors_read_the_configured_section_with_a_user_agent_naming_the_site(runtime) -> None:
    settings = collector_settings(runtime)
    configured = CollectConfig(allow_private_addresses=True)  # as tests/conftest.py writes it
    assert settings.model_copy(update={"user_agent": None}) == runtime.config.settings.collect == configured
    assert settings.user_agent.startswith("ClusterDigest/") and "+http://digest.test" in settings.user_agent
    assert user_agent(CollectConfig()) == DEFAULT_USER_AGENT
    assert user_agent(CollectConfig(user_agent="Bot/1")) == "Bot/1"
