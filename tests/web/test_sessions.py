"""A session ends on the server side: a session cookie copied before logging out, or before a new
password, no longer opens any editors' page, whichever copy of it is replayed."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from digest.runtime import Runtime
from tests.cli import digest
from tests.editor_helpers import ADMIN, EDITOR, desk, log_in

COOKIE = "digest_session"


def captured(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "logged in, the client holds a session cookie"
    return cookie.value


def replay(app: Flask, cookie: str, path: str = "/editor/") -> int:
    """The captured cookie, sent from a client of its own (the attacker's copy)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief.get(path).status_code


def test_a_cookie_copied_before_logout_is_refused_after_it(app: Flask) -> None:
    editor = desk(app, EDITOR)
    stolen = captured(editor.client)
    assert replay(app, stolen) == 200
    assert "You are logged out" in editor.follow("/editor/logout")
    thief = app.test_client()
    thief.set_cookie(COOKIE, stolen)
    answer = thief.get("/editor/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/editor/login")
    assert replay(app, stolen, "/editor/editions") == 302


def test_logout_ends_every_session_of_the_account_and_no_other(app: Flask) -> None:
    laptop, phone, admin = desk(app, EDITOR), desk(app, EDITOR), desk(app, ADMIN)
    laptop.follow("/editor/logout")
    assert phone.get("/editor/").status_code == 302
    assert admin.get("/editor/").status_code == 200
    assert log_in(app.test_client(), EDITOR).status_code == 302  # logging in again works


def test_a_cookie_copied_before_a_new_password_set_on_the_web_is_refused(app: Flask) -> None:
    editor = desk(app, EDITOR)
    stolen = captured(editor.client)
    admin = desk(app, ADMIN)
    page = admin.page("/editor/editors")
    editor_id = int(page.split(f"<strong>{EDITOR}</strong>")[0].rsplit('id="account-', 1)[1].split('"')[0])
    admin.follow(f"/editor/editors/{editor_id}/password", {"password": "a new long secret"})
    assert replay(app, stolen) == 302


def test_a_cookie_copied_before_a_new_password_set_from_the_command_line_is_refused(
    app: Flask, runtime: Runtime
) -> None:
    stolen = captured(desk(app, EDITOR).client)
    new_password = "a new long secret\n"
    digest("editors", "password", EDITOR, "--password-stdin", config=Path(runtime.config.path), stdin=new_password)
    assert replay(app, stolen) == 302
    assert log_in(app.test_client(), EDITOR, "a new long secret").status_code == 302
