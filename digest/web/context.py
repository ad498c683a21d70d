"""Access to the runtime from inside a request."""

from __future__ import annotations

from flask import current_app

from digest.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["digest.runtime"]
