"""Who the collectors say they are when they fetch.

Their tuning is the `collect:` section of the configuration (``digest.config.CollectConfig``): the one
definition of every setting, its bounds and its default. ``collector_settings`` reads it.
"""

from __future__ import annotations

from importlib import metadata

from digest.config import CollectConfig
from digest.runtime import Runtime


def _version() -> str:
    try:
        return metadata.version("cluster-digest")
    except metadata.PackageNotFoundError:
        return "0"


def user_agent_for(site_url: str) -> str:
    """Who is fetching, and where to find out more: the site that publishes the digest."""
    return f"ClusterDigest/{_version()} (feed collector; +{site_url})"


DEFAULT_USER_AGENT = user_agent_for("https://clusterdigest.eu/")


def collector_settings(runtime: Runtime) -> CollectConfig:
    """The `collect:` section, with a User-Agent naming this site unless one is configured."""
    section = runtime.config.settings.collect
    if section.user_agent:
        return section
    return section.model_copy(update={"user_agent": user_agent_for(runtime.config.site.base_url)})


def user_agent(settings: CollectConfig) -> str:
    return settings.user_agent or DEFAULT_USER_AGENT
