"""The web app's first pages: health, login with CSRF, the queue behind the login, the archive copy."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.editions.lifecycle import create_edition
from digest.editors.accounts import add_editor
from digest.runtime import Runtime
from digest.web import create_app
from tests.delivery_helpers import drain
from tests.factories import make_item, make_subscribers

PASSWORD = "correct horse battery"


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    with runtime.sessions() as session, session.begin():
        add_editor(session, SYSTEM, "editor@example.org", PASSWORD)
        make_item(session, "Pending <b>bold</b> news", status="pending")
        make_item(session, "An approved call", kind="call", status="approved")
    app = create_app(runtime)
    return app.test_client()


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def log_in(client: FlaskClient, password: str = PASSWORD) -> int:
    token = csrf_token(client.get("/editor/login").get_data(as_text=True))
    response = client.post(
        "/editor/login", data={"email": "editor@example.org", "password": password, "csrf_token": token}
    )
    return response.status_code


def test_health_check_reports_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_the_queue_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/editor/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/editor/login")


def test_login_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/editor/login")
    response = client.post("/editor/login", data={"email": "editor@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/editor/").status_code == 302


def test_a_wrong_password_is_refused_with_a_plain_message(client: FlaskClient) -> None:
    assert log_in(client, "not the password") == 401
    assert client.get("/editor/").status_code == 302


def test_an_editor_logs_in_and_sees_the_pending_queue_escaped(client: FlaskClient) -> None:
    assert log_in(client) == 302
    page = client.get("/editor/").get_data(as_text=True)
    assert "Pending &lt;b&gt;bold&lt;/b&gt; news" in page
    assert "An approved call" not in page
    approved = client.get("/editor/?status=approved&kind=call").get_data(as_text=True)
    assert "An approved call" in approved


def test_the_session_cookie_is_http_only(client: FlaskClient) -> None:
    token = csrf_token(client.get("/editor/login").get_data(as_text=True))
    response = client.post(
        "/editor/login", data={"email": "editor@example.org", "password": PASSWORD, "csrf_token": token}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_never_redirects_outside_the_editor_pages(client: FlaskClient) -> None:
    token = csrf_token(client.get("/editor/login").get_data(as_text=True))
    response = client.post(
        "/editor/login?next=//evil.example/",
        data={"email": "editor@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/editor/"


def test_the_archive_copy_of_a_sent_edition_carries_no_personal_link(runtime: Runtime, client: FlaskClient) -> None:
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 2)
        edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        start_sending(session, runtime.config, edition.id)
        slug = edition.slug
    assert client.get(f"/archive/{slug}").status_code == 404  # not sent yet
    drain(runtime)
    page = client.get(f"/archive/{slug}").get_data(as_text=True)
    assert "An approved call" in page
    assert "/unsubscribe/" not in page and "/preferences/" not in page and "XDIGESTX" not in page
    assert slug in client.get("/").get_data(as_text=True)
