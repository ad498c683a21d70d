"""Rate limits of the web app (Flask-Limiter), counted in one storage that every web process shares.

`limits.storage_url` names it: memory:// for one process, redis://host:port when several serve the
site (a count kept in one process's memory does not hold against a client whose requests are spread
over the others). Each app gets its own Limiter; the views that are limited are wrapped by the
blueprint that owns them, once its routes exist (see `protect`).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter, RequestLimit
from limits import parse

from digest.config import LimitsConfig

KEY = "digest.limiter"
PREFIX_KEY = "digest.limiter.prefix"


def client_address() -> str:
    """The client as the WSGI server (or the ProxyFix of `web.trusted_proxies`) sees it."""
    return (request.remote_addr or "unknown")[:64]


def install(app: Flask, settings: LimitsConfig) -> Limiter:
    limiter = Limiter(
        client_address,
        app=app,
        storage_uri=settings.storage_url,
        key_prefix=settings.key_prefix,
        strategy="moving-window",  # a sliding window: no burst of twice the limit across a boundary
        headers_enabled=False,  # each refusal sets its own Retry-After; other answers carry no limit headers
    )
    app.extensions[KEY], app.extensions[PREFIX_KEY] = limiter, settings.key_prefix
    return limiter


def limiter_of(app: Flask | None = None) -> Limiter:
    return (app or current_app).extensions[KEY]


def protect(app: Flask, endpoint: str, *decorators: Callable[[Any], Any]) -> None:
    """Wrap one view of `app` in Flask-Limiter decorators (from `limiter_of(app).limit(...)`).

    Called from a blueprint's `record_once` placed after its routes, so the view is registered; the
    decorators are per app because each app has its own Limiter and storage."""
    view = app.view_functions[endpoint]
    for decorate in decorators:
        view = decorate(view)
    app.view_functions[endpoint] = view


def retry_after(limit: RequestLimit) -> int:
    """Whole seconds until one more request is allowed."""
    return max(1, math.ceil(limit.window[0] - time.time()))


class Budget:
    """A count that a route decorator cannot express (per account, per recipient), kept in the same
    storage as the route limits so it holds across processes too."""

    def __init__(self, app: Flask, rate: str, scope: str) -> None:
        self.limiter = limiter_of(app)
        self.prefix = app.extensions[PREFIX_KEY]
        self.item = parse(rate)
        self.scope = scope

    def _ids(self, key: str) -> tuple[str, ...]:
        return (self.prefix, self.scope, hashlib.sha256(key.strip().lower().encode("utf-8")).hexdigest())

    def refused_for(self, key: str) -> int | None:
        """None while `key` has budget left; else the seconds until it has again."""
        if self.limiter.limiter.test(self.item, *self._ids(key)):
            return None
        reset_at, _ = self.limiter.limiter.get_window_stats(self.item, *self._ids(key))
        return max(1, math.ceil(reset_at - time.time()))

    def spend(self, key: str) -> bool:
        """Count one use; False (and nothing counted) when the budget is spent."""
        return self.limiter.limiter.hit(self.item, *self._ids(key))

    def clear(self, key: str) -> None:
        self.limiter.limiter.clear(self.item, *self._ids(key))
