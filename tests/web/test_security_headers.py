"""Every page of the app, public and editors', answers with a strict Content-Security-Policy (no inline
script), Referrer-Policy, nosniff and frame-ancestors; cookies are Secure on an https site; and
X-Forwarded-For is believed only from `web.trusted_proxies` reverse proxies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from digest.config import ConfigError, load_config
from digest.db import upgrade
from digest.runtime import Runtime
from tests.archive.helpers import at, publish
from tests.editor_helpers import ADMIN, EDITOR, desk, log_in, make_app, trail, varied_items


def directives(response: object) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")  # type: ignore[attr-defined]
    parts = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def assert_protected(path: str, response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    policy = directives(response)
    assert policy, f"{path}: no Content-Security-Policy"
    assert "frame-ancestors" in policy, path
    assert "*" not in policy["frame-ancestors"].split(), path
    script = policy.get("script-src", policy.get("default-src", ""))
    assert script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, (path, script)
    assert headers["X-Content-Type-Options"] == "nosniff", path
    assert headers["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin-when-cross-origin"}, path


def example_path(rule: Rule, values: dict[str, str]) -> str:
    path = rule.rule
    for argument in rule.arguments:
        path = path.replace(f"<int:{argument}>", values.get(argument, "1")).replace(
            f"<{argument}>", values.get(argument, "x")
        )
    return path


def get_rules(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or set())]


@pytest.fixture
def site(runtime: Runtime) -> Flask:
    publish(runtime, [("Hydrogen valleys network grows", "news")], when=at(2026, 9, 3))
    varied_items(runtime)
    return make_app(runtime)


def test_every_page_public_and_editors_answers_with_the_security_headers(site: Flask) -> None:
    values = {"slug": "newsletter-2026-09-03", "filename": "editor.js"}
    admin = desk(site, ADMIN)
    anonymous = site.test_client()
    walked = []
    for rule in get_rules(site):
        path = example_path(rule, values)
        for client in (anonymous, admin.client):
            response = client.get(path)
            assert response.status_code < 500, (path, response.status_code)
            assert_protected(path, response)
        walked.append(rule.endpoint)
    expected = {
        "archive.home",
        "archive.search_page",
        "archive.edition",
        "archive.feed",
        "public.healthz",
        "submission.submit_form",
        "subscription.subscribe",
        "editor.login",
        "editor.queue",
        "editor.edition",
        "editor.edition_preview",
        "editor.sources",
        "editor.subscribers",
        "editor.accounts",
        "schedule.page",
    }
    assert expected <= set(walked)
    for path in ("/", "/archive/newsletter-2026-09-03", "/editor/", "/editor/editions/1", "/editor/sources/1"):
        assert admin.get(path).status_code == 200, path
    # the error pages and the answers to a POST too
    assert_protected("/nowhere", anonymous.get("/nowhere"))
    assert_protected("/editor/login POST", anonymous.post("/editor/login", data={}))


def test_the_pages_have_no_inline_script(site: Flask) -> None:
    admin = desk(site, ADMIN)
    for path in ("/", "/archive/", "/archive/search?q=hydrogen", "/submit", "/subscribe", "/editor/", "/editor/login"):
        page = admin.get(path).get_data(as_text=True)
        for tag in page.split("<script")[1:]:
            assert tag.split(">", 1)[0].strip().startswith("src="), (path, tag[:80])
        assert " onclick=" not in page and " onload=" not in page and "javascript:" not in page, path


def test_the_edition_preview_keeps_its_sandbox_and_may_be_framed_by_the_site_only(site: Flask) -> None:
    admin = desk(site, ADMIN)
    preview = admin.get("/editor/editions/1/preview")
    assert preview.status_code == 200
    policy = directives(preview)
    assert "sandbox" in policy and policy["frame-ancestors"] == "'self'" and policy["default-src"] == "'none'"


def test_the_session_cookie_is_secure_when_base_url_is_https_from_the_environment(
    write_config: Callable[..., Path],
) -> None:
    config = load_config(write_config(), environ={"DIGEST_BASE_URL": "https://digest.example"})
    runtime = Runtime(config)
    upgrade(runtime.engine)
    try:
        cookie = log_in(make_app(runtime).test_client(), EDITOR).headers["Set-Cookie"]
        assert "; Secure" in cookie and "HttpOnly" in cookie
    finally:
        runtime.close()


def test_the_session_cookie_is_not_secure_on_plain_http(app: Flask) -> None:
    assert "Secure" not in log_in(app.test_client(), EDITOR).headers["Set-Cookie"]


def login_clients(write_config: Callable[..., Path], trusted_proxies: int | None, *forwarded: str) -> list[str]:
    """Log in with X-Forwarded-For headers; the client addresses the audit trail recorded."""
    web = {} if trusted_proxies is None else {"web": {"trusted_proxies": trusted_proxies}}
    runtime = Runtime(load_config(write_config(**web), environ={}))
    upgrade(runtime.engine)
    try:
        app = make_app(runtime)
        for header in forwarded:
            client: FlaskClient = app.test_client()
            assert log_in(client, EDITOR, headers={"X-Forwarded-For": header}).status_code == 302
        return [entry.detail["client"] for entry in trail(runtime, "editor") if entry.action == "editor.logged_in"]
    finally:
        runtime.close()


@pytest.mark.parametrize("trusted_proxies", [None, 0])
def test_x_forwarded_for_is_ignored_by_default(write_config: Callable[..., Path], trusted_proxies: int | None) -> None:
    assert login_clients(write_config, trusted_proxies, "203.0.113.9") == ["127.0.0.1"]


def test_one_trusted_proxy_gives_the_client_it_saw_and_not_what_the_client_claimed(
    write_config: Callable[..., Path],
) -> None:
    assert login_clients(write_config, 1, "203.0.113.9", "6.6.6.6, 203.0.113.10") == ["203.0.113.9", "203.0.113.10"]


def test_a_wrong_trusted_proxies_setting_is_one_clear_error(write_config: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match=r"web\.trusted_proxies"):
        load_config(write_config(web={"trusted_proxies": -1}), environ={})
