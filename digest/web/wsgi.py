"""The web app for another WSGI server (gunicorn with several processes, see README "Several web
processes"): the same app factory `digest serve` uses, configured as every command is (--config is
the factory's argument; else $DIGEST_CONFIG, else ./config.yaml; DIGEST_* variables override).

    gunicorn --workers 4 --bind 127.0.0.1:8000 'digest.web.wsgi:application()'

Each worker process calls it after the fork (no --preload): database connections are never shared
between processes.
"""

from __future__ import annotations

from flask import Flask

from digest.cli.common import ensure_schema
from digest.config import load_config
from digest.runtime import Runtime
from digest.web import create_app


def application(config: str | None = None) -> Flask:
    runtime = Runtime(load_config(config))
    ensure_schema(runtime)  # refuse to serve an empty or older database, as `digest serve` does
    return create_app(runtime)
