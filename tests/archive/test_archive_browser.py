"""The archive in a real browser (Debian's chromium through Playwright): desktop and phone widths,
nothing wider than the screen, the way between editions works. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from digest.runtime import Runtime
from digest.web import create_app
from tests.archive.helpers import at, publish
from tests.browser import screenshot, scroll_width, serving

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def site(runtime: Runtime) -> Iterator[str]:
    publish(runtime, [("Hydrogen valleys network grows", "news"), ("Matchmaking days", "event")], when=at(2026, 9, 3))
    publish(runtime, [("Open call for textile SMEs", "call")], when=at(2026, 10, 1), title="October newsletter")
    with serving(create_app(runtime)) as url:
        yield url


def test_the_archive_reads_well_on_desktop_and_phone(site: str, browser: Browser) -> None:
    for name, viewport in VIEWPORTS.items():
        page = browser.new_page(viewport=viewport)
        for label, path in (("home", "/"), ("index", "/archive/"), ("edition", "/archive/newsletter-2026-10-01")):
            page.goto(site + path)
            assert scroll_width(page) <= viewport["width"], (name, label)
            screenshot(page, f"archive-{label}-{name}.png", full_page=True)
        assert page.title() == "October newsletter · Test Cluster Platform"
        assert page.get_by_role("link", name="Subscribe").first.is_visible()
        page.get_by_role("link", name="Previous edition").first.click()
        page.wait_for_url(f"{site}/archive/newsletter-2026-09-03")
        assert "Hydrogen valleys network grows" in page.content()
        page.get_by_role("link", name="Archive").first.click()
        page.wait_for_url(f"{site}/archive/")
        assert page.locator("h3.ar-month").all_inner_texts() == ["OCTOBER", "SEPTEMBER"]  # shown in capitals
        page.close()
