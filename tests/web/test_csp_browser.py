"""The Content-Security-Policy in a real browser (Debian's chromium through Playwright): the editors'
queue and edition page, the submission form and the archive search load with no violation reported,
and their scripts (editor.js, submit.js) still work under the policy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from digest.config import load_config
from digest.db import upgrade
from digest.runtime import Runtime
from digest.web import create_app
from tests.archive.helpers import at, publish
from tests.browser import serving
from tests.editor_helpers import EDITOR, PASSWORD, add_accounts, varied_items
from tests.smtpserver import free_port

# Recorded from the page's first script on, before any of the page's own.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


@pytest.fixture
def site(write_config: Callable[..., Path]) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runtime = Runtime(load_config(write_config(site={"name": "Test Cluster Platform", "base_url": url}), environ={}))
    upgrade(runtime.engine)
    add_accounts(runtime)
    publish(runtime, [("Hydrogen valleys network grows", "news")], when=at(2026, 9, 3))
    varied_items(runtime)
    app = create_app(runtime)
    try:
        with serving(app, port):
            yield url
    finally:
        mailer = app.extensions.get("digest.mailer")
        if mailer is not None:
            mailer.close()
        runtime.close()


class Watched:
    """A page whose CSP violations, as events and as console messages, are collected."""

    def __init__(self, browser: Browser) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.add_init_script(LISTEN)

    def goto(self, url: str) -> Page:
        self.page.goto(url)
        return self.page

    def violations(self) -> list[str]:
        reported = self.page.evaluate("window.__violations")
        in_console = [text for text in self.console if "Content Security Policy" in text]
        return reported + in_console


def test_the_listener_sees_a_violation(site: str, browser: Browser) -> None:
    """The check below can fail: an inline script put into the page is refused and reported."""
    watched = Watched(browser)
    page = watched.goto(f"{site}/archive/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.append(s); }"
    )
    expect(page.locator("body")).to_be_visible()
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.ran") is None
    assert any("script-src" in violation for violation in watched.violations())


def test_the_editors_queue_loads_clean_and_its_script_works(site: str, browser: Browser) -> None:
    watched = Watched(browser)
    page = watched.goto(f"{site}/editor/login")
    page.get_by_label("Email").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site}/editor/")
    boxes = page.locator('input[type=checkbox][name="ids"]')
    assert boxes.count() > 1
    page.get_by_label("Tick every item on this page").check()  # editor.js ticks them all
    for index in range(boxes.count()):
        expect(boxes.nth(index)).to_be_checked()
    page.goto(f"{site}/editor/editions/1")  # the edition page and its sandboxed preview frame
    expect(page.locator("iframe.html-frame")).to_be_visible()
    page.goto(f"{site}/editor/")
    assert watched.violations() == []
    watched.page.close()


def test_the_submission_form_loads_clean_and_its_script_works(site: str, browser: Browser) -> None:
    watched = Watched(browser)
    page = watched.goto(f"{site}/submit")
    expect(page.get_by_label("Starts")).to_be_hidden()  # submit.js hid the fields of other kinds
    page.get_by_label("Event", exact=True).check()
    expect(page.get_by_label("Starts")).to_be_visible()
    expect(page.get_by_label("Deadline")).to_be_hidden()
    assert watched.violations() == []
    watched.page.close()


def test_the_archive_search_loads_clean_and_finds(site: str, browser: Browser) -> None:
    watched = Watched(browser)
    page = watched.goto(f"{site}/archive/search")
    page.get_by_label("Search items and editions").fill("hydrogen")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".ar-hits").first).to_contain_text("Hydrogen valleys network grows")
    page.goto(f"{site}/archive/newsletter-2026-09-03")  # the public copy of the email, its CSS inlined
    expect(page.get_by_text("Hydrogen valleys network grows").first).to_be_visible()
    assert watched.violations() == []
    watched.page.close()
