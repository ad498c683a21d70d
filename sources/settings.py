"""Collector tuning, read from the optional `collect:` section of the configuration."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from digest.runtime import Runtime

MIB = 1024 * 1024


def _version() -> str:
    try:
        return metadata.version("cluster-digest")
    except metadata.PackageNotFoundError:
        return "0"


def user_agent_for(site_url: str) -> str:
    """Who is fetching, and where to find out more: the site that publishes the digest."""
    return f"ClusterDigest/{_version()} (feed collector; +{site_url})"


DEFAULT_USER_AGENT = user_agent_for("https://clusterdigest.eu/")


@dataclass(frozen=True)
class CollectorSettings:
    """Every field is a key of the `collect:` configuration section, with the same name and default;
    absent keys keep their default, so this works before (and without) the section."""

    concurrency: int = 32  # sources fetched at once (threads; they mostly wait on the network)
    parse_processes: int = -1  # -1: auto (processes for big runs); 0: parse in the fetching threads; N: N processes
    connect_timeout: float = 15.0
    read_timeout: float = 15.0
    total_timeout: float = 120.0  # a whole download, so a trickling body cannot hold a worker for ever
    max_body_bytes: int = 15 * MIB
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    backoff_base_seconds: float = 300.0
    backoff_cap_seconds: float = 6 * 3600.0
    retry_after_cap_seconds: float = 7 * 86400.0
    jitter: float = 0.2  # the backoff delay is spread by ±20 %
    refresh_interval_seconds: float = 0.0  # a healthy source is due again this long after a fetch
    recurrence_days: int = 180  # recurring events are expanded this far ahead
    past_event_days: int = 30  # events that ended longer ago than this are not collected
    dedup_title_days: int = 60  # near-identical titles are looked for among items this recent
    max_summary_chars: int = 20_000

    @classmethod
    def from_mapping(cls, values: Any) -> CollectorSettings:
        """Settings from a mapping or a pydantic section; unknown keys are ignored, known ones coerced."""
        if values is None:
            return cls()
        if hasattr(values, "model_dump"):
            values = values.model_dump()
        elif not isinstance(values, dict):
            values = {name: getattr(values, name) for name in dir(values) if not name.startswith("_")}
        chosen = {}
        for field in dataclasses.fields(cls):
            if field.name in values and values[field.name] is not None:
                chosen[field.name] = type(field.default)(values[field.name])
        return cls(**chosen)

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> CollectorSettings:
        """The `collect:` section, with a User-Agent naming this site unless one is configured."""
        section = getattr(runtime.config.settings, "collect", None)
        settings = cls.from_mapping(section)
        if settings.user_agent == DEFAULT_USER_AGENT:
            settings = settings.replace(user_agent=user_agent_for(runtime.config.site.base_url))
        return settings

    def replace(self, **changes: Any) -> CollectorSettings:
        return dataclasses.replace(self, **changes)
