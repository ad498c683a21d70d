"""The login's limits: failures lock only the client address that made them, HEAD is no attempt,
and the counts hold across web processes that share a Redis storage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from digest.web import create_app
from tests.editor_helpers import ADMIN, EDITOR, PASSWORD, log_in, make_app
from tests.limits_helpers import redis_runtime

ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
EDITORS_OFFICE = {"REMOTE_ADDR": "198.51.100.4"}


def test_failing_an_editors_password_elsewhere_does_not_lock_the_editor_out(app: Flask) -> None:
    attacker = app.test_client()
    for _ in range(5):
        assert log_in(attacker, EDITOR, "guess", environ_overrides=ATTACKER).status_code == 401
    refused = log_in(attacker, EDITOR, PASSWORD, environ_overrides=ATTACKER)
    assert refused.status_code == 429 and "Too many failed logins" in refused.get_data(as_text=True)

    editor = log_in(app.test_client(), EDITOR, PASSWORD, environ_overrides=EDITORS_OFFICE)
    assert editor.status_code == 302 and editor.headers["Location"].startswith("/editor/")
    assert log_in(app.test_client(), ADMIN, PASSWORD, environ_overrides=ATTACKER).status_code == 302


def test_head_is_not_a_login_attempt(app: Flask) -> None:
    client = app.test_client()
    for _ in range(25):  # more than either limit allows failures
        head = client.head("/editor/login", environ_overrides=ATTACKER)
        assert head.status_code == 200 and head.get_data() == b""
    assert log_in(client, EDITOR, "wrong", environ_overrides=ATTACKER).status_code == 401
    assert log_in(client, EDITOR, PASSWORD, environ_overrides=ATTACKER).status_code == 302


def test_login_failures_are_counted_across_processes(write_config: Callable[..., Path]) -> None:
    with redis_runtime(write_config, login_failures_per_account=3, login_failures_per_client=5) as runtime:
        first, second = make_app(runtime), create_app(runtime)  # two processes' apps, one storage
        statuses = [
            log_in(app.test_client(), EDITOR, "guess", environ_overrides=ATTACKER).status_code
            for app in (first, second, first, second)
        ]
        assert statuses == [401, 401, 401, 429]  # three failures on this account from this client, in all
        assert log_in(second.test_client(), "x@example.org", "guess", environ_overrides=ATTACKER).status_code == 401
        assert log_in(first.test_client(), "y@example.org", "guess", environ_overrides=ATTACKER).status_code == 401
        locked = log_in(second.test_client(), ADMIN, PASSWORD, environ_overrides=ATTACKER)
        assert locked.status_code == 429 and "from your network" in locked.get_data(as_text=True)
        assert log_in(first.test_client(), EDITOR, PASSWORD, environ_overrides=EDITORS_OFFICE).status_code == 302
