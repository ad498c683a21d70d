"""Who reaches what in the editors' app: nobody logged out reaches any /editor/ page, editors cannot
do admins' things, logins are rate limited, logging out needs a POST with its CSRF token, and the
session cookie carries the right flags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from flask import Flask
from werkzeug.routing import Rule

from digest.config import load_config
from digest.db import upgrade
from digest.runtime import Runtime
from tests.editor_helpers import ADMIN, EDITOR, PASSWORD, csrf_token, desk, log_in, make_app, trail

PUBLIC = {"editor.login", "editor.static"}
ADMIN_ONLY = {
    "editor.sources",
    "editor.add_source_page",
    "editor.source",
    "editor.save_source",
    "editor.source_enabled",
    "editor.source_collect",
    "editor.subscribers",
    "editor.add_subscriber_page",
    "editor.subscriber",
    "editor.unsubscribe_subscriber",
    "editor.forget_subscriber_page",
    "editor.import_subscribers",
    "editor.export_subscribers",
    "editor.accounts",
    "editor.add_account",
    "editor.account_role",
    "editor.account_password",
    "editor.account_remove",
    "editor.audit_trail",
    "editor.edition_schedule",
    "editor.edition_unschedule",
    "editor.edition_send_confirm",
    "editor.edition_send",
    "editor.edition_resume",
}


def editor_rules(app: Flask) -> list[Rule]:
    return [
        rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/editor") and rule.endpoint not in PUBLIC
    ]


def example_path(rule: Rule) -> str:
    """The rule's path with every argument filled (ids that need not exist: the guard comes first)."""
    path = rule.rule
    for argument in rule.arguments:
        path = path.replace(f"<int:{argument}>", "1").replace(f"<{argument}>", "x")
    return path


def requests_of(app: Flask) -> Iterator[tuple[str, str, str]]:
    for rule in editor_rules(app):
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule.endpoint, method, example_path(rule)


def test_every_editor_page_is_walked(app: Flask) -> None:
    endpoints = {endpoint for endpoint, _, _ in requests_of(app)}
    assert endpoints >= ADMIN_ONLY
    assert {"editor.queue", "editor.item", "editor.editions", "editor.edition", "schedule.page"} <= endpoints
    assert len(endpoints) > 40


def test_nobody_logged_out_reaches_any_editor_page(app: Flask, runtime: Runtime) -> None:
    app.config["WTF_CSRF_ENABLED"] = False  # so the login guard, not the CSRF check, is what answers
    client = app.test_client()
    for endpoint, method, path in requests_of(app):
        response = client.open(path, method=method)
        if path.endswith(".json"):
            assert response.status_code == 401, (endpoint, method)
        else:
            assert response.status_code == 302, (endpoint, method, response.status_code)
            assert response.headers["Location"].startswith("/editor/login"), (endpoint, method)
    assert [entry.action for entry in trail(runtime, "editor")] == []  # nothing was done


def test_an_editor_gets_403_on_every_admin_page_and_action(app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    editor = desk(app, EDITOR)
    for endpoint, method, path in requests_of(app):
        if endpoint == "editor.logout":
            continue
        status = editor.client.open(path, method=method).status_code
        if endpoint in ADMIN_ONLY:
            assert status == 403, (endpoint, method, status)
        else:
            assert status != 403, (endpoint, method, status)


def test_the_403_page_says_what_admins_do(app: Flask) -> None:
    page = desk(app, EDITOR).get("/editor/subscribers")
    assert page.status_code == 403
    assert "Only admins can do this" in page.get_data(as_text=True)


def test_an_admin_reaches_the_admin_pages_and_an_editor_sees_no_link_to_them(app: Flask) -> None:
    admin = desk(app, ADMIN)
    for path in ("/editor/sources", "/editor/subscribers", "/editor/editors", "/editor/audit"):
        assert admin.get(path).status_code == 200, path
    queue = desk(app, EDITOR).page("/editor/")
    assert "/editor/subscribers" not in queue and "/editor/sources" not in queue
    assert "/editor/schedule" in queue  # the scheduler's page stays in the navigation


def test_five_failed_logins_lock_the_address_with_a_clear_429(app: Flask) -> None:
    client = app.test_client()
    for _ in range(5):
        assert log_in(client, EDITOR, "wrong password").status_code == 401
    refused = log_in(client, EDITOR, PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins for this address" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get("/editor/").status_code == 302  # not logged in
    assert log_in(app.test_client(), ADMIN).status_code == 302  # other addresses are not locked


def test_a_successful_login_clears_the_count_of_its_address(app: Flask) -> None:
    client = app.test_client()
    for _ in range(4):
        log_in(client, EDITOR, "wrong password")
    assert log_in(client, EDITOR).status_code == 302
    other = app.test_client()
    for _ in range(4):
        assert log_in(other, EDITOR, "wrong password").status_code == 401
    assert log_in(other, EDITOR).status_code == 302


def test_many_failures_from_one_client_lock_that_client_only(write_config: Callable[..., Path]) -> None:
    runtime = Runtime(load_config(write_config(limits={"login_failures_per_client": 3}), environ={}))
    upgrade(runtime.engine)
    try:
        app = make_app(runtime)
        client = app.test_client()
        spoof = {"environ_overrides": {"REMOTE_ADDR": "203.0.113.9"}}
        for number in range(3):
            assert log_in(client, f"guess{number}@example.org", "wrong password", **spoof).status_code == 401
        refused = log_in(client, EDITOR, PASSWORD, **spoof)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "from your network" in refused.get_data(as_text=True)
        elsewhere = log_in(app.test_client(), EDITOR, PASSWORD, environ_overrides={"REMOTE_ADDR": "198.51.100.4"})
        assert elsewhere.status_code == 302
    finally:
        runtime.close()


def test_an_account_counts_however_its_address_is_typed(app: Flask) -> None:
    client = app.test_client()
    for typed in ("a@example.org", "A@example.org ", " a@EXAMPLE.org", "a@example.org", "A@Example.Org"):
        assert log_in(client, typed, "wrong password").status_code == 401
    assert log_in(client, "a@example.org", "wrong password").status_code == 429


def test_logout_needs_a_post_with_its_csrf_token(app: Flask, runtime: Runtime) -> None:
    editor = desk(app, EDITOR)
    assert editor.get("/editor/logout").status_code == 405
    assert editor.client.post("/editor/logout").status_code == 400  # no token: still logged in
    assert editor.get("/editor/").status_code == 200
    page = editor.follow("/editor/logout")
    assert "You are logged out" in page
    assert editor.get("/editor/").status_code == 302
    assert [entry.action for entry in trail(runtime, "editor")] == ["editor.logged_in", "editor.logged_out"]


def test_login_sends_back_to_the_page_asked_for_inside_the_editors_pages_only(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/editor/editions?x=1").headers["Location"] == "/editor/login?next=/editor/editions?x%3D1"
    token = csrf_token(client.get("/editor/login").get_data(as_text=True))
    data = {"email": EDITOR, "password": PASSWORD, "csrf_token": token}
    assert client.post("/editor/login?next=/editor/editions", data=data).headers["Location"] == "/editor/editions"
    for target in ("https://evil.example/", "//evil.example/editor/", "/editor/\\evil.example"):
        client = app.test_client()
        token = csrf_token(client.get("/editor/login").get_data(as_text=True))
        response = client.post("/editor/login", query_string={"next": target}, data=data | {"csrf_token": token})
        assert response.headers["Location"] == "/editor/", target


def test_a_new_password_ends_the_accounts_open_sessions(app: Flask) -> None:
    editor = desk(app, EDITOR)
    admin = desk(app, ADMIN)
    page = admin.page("/editor/editors")
    editor_id = int(page.split(f"<strong>{EDITOR}</strong>")[0].rsplit('id="account-', 1)[1].split('"')[0])
    assert "New password set" in admin.follow(
        f"/editor/editors/{editor_id}/password", {"password": "a new long secret"}
    )
    assert editor.get("/editor/").status_code == 302
    assert log_in(app.test_client(), EDITOR, "a new long secret").status_code == 302


def test_the_session_cookie_is_secure_on_https(write_config: Callable[..., Path]) -> None:
    config = load_config(write_config(site={"name": "T", "base_url": "https://digest.example"}), environ={})
    runtime = Runtime(config)
    upgrade(runtime.engine)
    try:
        response = log_in(make_app(runtime).test_client(), EDITOR)
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert cookie.startswith("digest_session=")
    finally:
        runtime.close()
