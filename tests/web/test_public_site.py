"""The public site is one site: the same navigation and footer on every public page, styled error
pages, a favicon, and a privacy notice wherever someone gives us their address."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from lxml import html as lxml_html
from playwright.sync_api import Browser

from digest.config import load_config
from digest.db import upgrade
from digest.runtime import Runtime
from tests.archive.helpers import at, publish
from tests.browser import serving
from tests.editor_helpers import make_app

NAVIGATION = ["Latest editions", "Archive", "Search", "Send us your news", "Subscribe"]


def navigation(page: str) -> list[tuple[str, str]]:
    tree = lxml_html.fromstring(page)
    return [(link.text_content().strip(), link.get("href")) for link in tree.cssselect("header nav a")]


def footer_links(page: str) -> dict[str, str]:
    tree = lxml_html.fromstring(page)
    return {link.text_content().strip(): link.get("href") for link in tree.cssselect("footer a")}


@pytest.fixture
def site(app: Flask, runtime: Runtime) -> Flask:
    slug = publish(runtime, [("Cluster week in Porto", "news")], when=at(2026, 11, 2), title="Digest 45")
    app.config["TEST_EDITION_PATH"] = f"/archive/{slug}"
    return app


PUBLIC_PAGES = ["/", "/archive/", "/archive/search?q=porto", "/subscribe", "/submit", "/privacy"]


def test_every_public_page_has_the_same_navigation(site: Flask) -> None:
    client = site.test_client()
    seen = {}
    for path in PUBLIC_PAGES:
        answer = client.get(path)
        assert answer.status_code == 200, path
        seen[path] = navigation(answer.get_data(as_text=True))
    expected = [
        ("Latest editions", "/"), ("Archive", "/archive/"), ("Search", "/archive/search"),
        ("Send us your news", "/submit"), ("Subscribe", "/subscribe"),
    ]
    assert all(links == expected for links in seen.values()), seen


def test_an_archived_edition_carries_the_site_navigation(site: Flask) -> None:
    client = site.test_client()
    answer = client.get(site.config["TEST_EDITION_PATH"])
    assert answer.status_code == 200
    page = lxml_html.fromstring(answer.get_data(as_text=True))
    texts = [link.text_content().strip() for link in page.cssselect("nav.ar-nav a")]
    assert texts == NAVIGATION


def test_a_missing_page_is_a_styled_404_with_the_site_navigation(app: Flask) -> None:
    answer = app.test_client().get("/no/such/page")
    assert answer.status_code == 404
    body = answer.get_data(as_text=True)
    assert "Page not found" in body and "Test Cluster Platform" in body
    assert [text for text, _ in navigation(body)] == NAVIGATION
    assert "Werkzeug" not in body and "The requested URL was not found on the server" not in body


def test_a_missing_api_address_answers_in_the_api_error_shape(app: Flask) -> None:
    answer = app.test_client().get("/api/no-such-thing")
    assert answer.status_code == 404
    assert answer.get_json() == {"errors": [{"field": None, "message": answer.get_json()["errors"][0]["message"]}]}
    assert answer.get_json()["errors"][0]["message"]


def test_a_wrong_method_on_a_public_page_is_styled_too(app: Flask) -> None:
    answer = app.test_client().delete("/subscribe")
    assert answer.status_code == 405
    assert "Allow" in answer.headers
    assert [text for text, _ in navigation(answer.get_data(as_text=True))] == NAVIGATION


def test_the_favicon_is_served(app: Flask) -> None:
    answer = app.test_client().get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.mimetype == "image/vnd.microsoft.icon"
    assert answer.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header: reserved 0, type 1 (icon)


def test_the_subscribe_forms_link_to_the_built_in_privacy_notice(site: Flask) -> None:
    client = site.test_client()
    for path in ("/", "/subscribe"):
        tree = lxml_html.fromstring(client.get(path).get_data(as_text=True))
        assert [a.get("href") for a in tree.cssselect("form .privacy-line a")] == ["/privacy"], path
    notice = client.get("/privacy").get_data(as_text=True)
    assert "Avenue des Arts 1" in notice or "Test Cluster Platform" in notice
    assert "digest@digest.test" in notice  # whom to write to, from mail.from
    assert footer_links(notice)["Privacy notice"] == "/privacy"


def test_an_operators_privacy_url_replaces_the_built_in_notice(write_config: Callable[..., Path]) -> None:
    url = "https://clusters.example.eu/privacy-policy"
    runtime = Runtime(load_config(write_config(site={"privacy_url": url}), environ={}))
    upgrade(runtime.engine)
    try:
        client = make_app(runtime).test_client()
        tree = lxml_html.fromstring(client.get("/subscribe").get_data(as_text=True))
        assert [a.get("href") for a in tree.cssselect("form .privacy-line a")] == [url]
        assert footer_links(client.get("/archive/").get_data(as_text=True))["Privacy notice"] == url
    finally:
        runtime.close()


def test_a_browser_finds_every_resource_of_the_public_pages(site: Flask, browser: Browser) -> None:
    failed: list[str] = []
    with serving(site) as url:
        page = browser.new_page()
        page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
        for path in [*PUBLIC_PAGES, site.config["TEST_EDITION_PATH"]]:
            page.goto(url + path, wait_until="load")
        page.close()
    assert failed == []
