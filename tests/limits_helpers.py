"""Apps on a Redis storage for the rate limits, as several web processes would share it: each test
gets its own key prefix, so tests (and runs) never see each other's counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from digest.config import load_config
from digest.db import upgrade
from digest.runtime import Runtime

REDIS_URL = "redis://127.0.0.1:6379"


def require_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({error})")


@contextmanager
def redis_runtime(write_config: Callable[..., Path], **limits: Any) -> Iterator[Runtime]:
    """A runtime whose limits live in Redis under a prefix of its own; the keys are removed afterwards."""
    require_redis()
    prefix = f"digest-test-{uuid.uuid4().hex}"
    settings = {"storage_url": REDIS_URL, "key_prefix": prefix, **limits}
    runtime = Runtime(load_config(write_config(limits=settings), environ={}))
    upgrade(runtime.engine)
    try:
        yield runtime
    finally:
        runtime.close()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)
