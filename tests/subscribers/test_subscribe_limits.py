"""Subscribing is limited per client, whatever address each request names, and the confirmation
mails per recipient too; both counts hold across web processes when they share a Redis storage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from digest.runtime import Runtime
from digest.web import create_app
from tests.limits_helpers import redis_runtime


def client_at(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def mailed(app: Flask, outbox: Path) -> list[Path]:
    app.extensions["digest.mailer"].flush()
    return sorted(outbox.glob("*.eml"))


def test_one_client_cannot_make_the_site_mail_200_strangers(runtime: Runtime) -> None:
    app = create_app(runtime)
    try:
        attacker = client_at(app, "203.0.113.66")
        answers = [
            attacker.post("/subscribe", json={"email": f"stranger{n}@example.org"}).status_code for n in range(200)
        ]
        assert answers.count(202) == 10 and answers.count(429) == 190  # limits.subscribe_per_hour: 10 by default
        assert len(mailed(app, runtime.config.outbox_dir)) == 10

        refused = attacker.post("/subscribe", json={"email": "one.more@example.org"})
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        assert refused.get_json()["errors"][0]["message"].startswith("Too many subscription requests from your address")
        page = attacker.post("/subscribe", data={"email": "form@example.org"})
        assert page.status_code == 429 and "Too many subscription requests" in page.get_data(as_text=True)
        assert attacker.get("/subscribe").status_code == 200  # reading the form is not limited

        neighbour = client_at(app, "198.51.100.5")  # another client is not held back
        assert neighbour.post("/subscribe", json={"email": "reader@example.org"}).status_code == 202
        assert len(mailed(app, runtime.config.outbox_dir)) == 11
    finally:
        app.extensions["digest.mailer"].close()


def test_web_processes_sharing_redis_share_the_counts(write_config: Callable[..., Path]) -> None:
    with redis_runtime(write_config, subscribe_per_hour=4) as runtime:
        first, second = create_app(runtime), create_app(runtime)  # two processes' apps, one storage
        try:
            one, other = client_at(first, "203.0.113.7"), client_at(second, "203.0.113.7")
            statuses = [
                client.post("/subscribe", json={"email": f"n{n}@example.org"}).status_code
                for n, client in enumerate((one, other, one, other, one, other))
            ]
            assert statuses == [202, 202, 202, 202, 429, 429]

            # the confirmations to one address (3 an hour) are counted across both as well
            for n, app in enumerate((first, second, first, second)):
                client_at(app, f"198.51.100.{n + 10}").post("/subscribe", json={"email": "target@example.org"})
            for app in (first, second):
                app.extensions["digest.mailer"].flush()
            assert len(list(runtime.config.outbox_dir.glob("target@example.org-*.eml"))) == 3
        finally:
            for app in (first, second):
                app.extensions["digest.mailer"].close()
