"""A rendered digest in a real browser (Debian's chromium through Playwright): 600 px and 375 px wide,
light and dark. Nothing may be wider than a phone screen; the screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

from digest.editions.assembly import assemble_digest
from digest.editions.compose import freeze
from digest.rendering.render import personalise
from digest.runtime import Runtime
from tests.browser import screenshot, scroll_width
from tests.edition_helpers import MONDAY, forty_item_week

# The item images, served locally: a gradient the size of a typical 1200×630 social image.
PICTURE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630"><defs><linearGradient id="g" x2="1" y2="1">'
    '<stop offset="0" stop-color="#4f6fc4"/><stop offset="1" stop-color="#8cc9bb"/></linearGradient></defs>'
    '<rect width="1200" height="630" fill="url(#g)"/></svg>'
)
# Every element whose right edge passes the viewport (the hidden preheader is zero-sized and clipped).
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
    .map(el => [el, el.getBoundingClientRect()])
    .filter(([el, box]) => box.width > 0 && box.height > 0 && box.right > innerWidth + 0.5)
    .map(([el, box]) => `${el.tagName.toLowerCase()}.${el.className} ends at ${Math.round(box.right)}`)"""


@pytest.fixture
def digest_page(runtime: Runtime, tmp_path: Path) -> Path:
    """The 40-item week as a subscriber gets it, written to a file."""
    with runtime.sessions() as session:
        forty_item_week(session)
        edition = assemble_digest(session, "Europe/Brussels", now=MONDAY).require()
        freeze(runtime.config, edition, MONDAY)
        base = runtime.config.site.base_url
        page = personalise(
            edition.html,
            {
                "name": "Ana Ferreira",
                "unsubscribe_url": f"{base}/unsubscribe/t",
                "preferences_url": f"{base}/preferences/t",
            },
        )
    path = tmp_path / "digest.html"
    path.write_text(page, encoding="utf-8")
    return path


def serve_offline(route: Route) -> None:
    """The file itself; images from the local picture; anything else refused (nothing leaves the machine)."""
    if route.request.url.startswith("file:"):
        route.continue_()
    elif route.request.resource_type == "image":
        route.fulfill(status=200, content_type="image/svg+xml", body=PICTURE)
    else:
        route.abort()


def open_page(browser: Browser, path: Path, width: int, scheme: str) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    page.route("**/*", serve_offline)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page


@pytest.mark.parametrize("width", [600, 375])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_digest_fits_and_is_saved_as_a_screenshot(
    browser: Browser, digest_page: Path, width: int, scheme: str
) -> None:
    page = open_page(browser, digest_page, width, scheme)
    try:
        assert scroll_width(page) <= width
        assert page.evaluate(OVERFLOWING) == []
        assert page.evaluate("[...document.images].every(img => img.complete && img.naturalWidth > 0)")
        screenshot(page, f"email-digest-{width}px-{scheme}.png", full_page=True)
    finally:
        page.close()


def test_the_overflow_check_sees_overflow(browser: Browser, tmp_path: Path) -> None:
    wide = tmp_path / "wide.html"
    wide.write_text('<!doctype html><body style="margin:0"><p>fits</p><div style="width:500px">too wide</div>')
    page = open_page(browser, wide, 375, "light")
    assert page.evaluate(OVERFLOWING) == ["div. ends at 500"]
    page.close()


def test_dark_mode_turns_the_page_dark_and_keeps_text_readable(browser: Browser, digest_page: Path) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        page = open_page(browser, digest_page, 375, scheme)
        colours[scheme] = page.evaluate(
            """() => { const title = document.querySelector('.dg-title a'), card = title.closest('td');
                return [getComputedStyle(card).backgroundColor, getComputedStyle(title).color]; }"""
        )
        page.close()
    assert colours["light"] == ["rgb(238, 242, 251)", "rgb(31, 36, 48)"]  # the featured band, dark ink
    background, text = colours["dark"]
    assert background == "rgb(30, 38, 56)" and text == "rgb(230, 233, 240)"  # dark band, light ink


# Every text a reader can see, with its computed font size and whether it belongs to an item (a card or a list row).
# Text nobody sees is left out: the hidden preheader, and the visually hidden end of a link's name
# (display:none / opacity:0, which checkVisibility reports).
TEXT_SIZES = """() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), found = [];
    while (walker.nextNode()) {
        const node = walker.currentNode, element = node.parentElement;
        if (!node.textContent.trim() || !element.checkVisibility({opacityProperty: true})) continue;
        found.push({
            size: parseFloat(getComputedStyle(element).fontSize),
            item: element.closest('td.dg-feat, td.dg-plain, .dg-row') !== null,  // cards and list rows
            text: node.textContent.trim().slice(0, 40),
        });
    }
    return found;
}"""


def test_on_a_phone_no_text_is_under_13px_and_item_text_is_at_least_15px(browser: Browser, digest_page: Path) -> None:
    page = open_page(browser, digest_page, 375, "light")
    try:
        texts = page.evaluate(TEXT_SIZES)
    finally:
        page.close()
    items = [text for text in texts if text["item"]]
    assert len(items) > 100 and len(texts) > len(items) + 10  # the whole email was measured
    print(f"\n375 px: smallest text {min(t['size'] for t in texts)} px, smallest item text "
          f"{min(t['size'] for t in items)} px")  # fmt: skip
    assert [text for text in texts if text["size"] < 13] == []
    assert [text for text in items if text["size"] < 15] == []


def test_the_text_size_check_sees_small_and_hidden_text(browser: Browser, tmp_path: Path) -> None:
    sample = tmp_path / "sample.html"
    sample.write_text(
        '<!doctype html><body><table><tr><td class="dg-plain"><p style="font-size:14px">item</p>'
        '<span style="opacity:0;font-size:1px">hidden</span></td></tr></table>'
        '<div style="display:none;font-size:1px">preheader</div><p style="font-size:12px">footer</p>'
    )
    page = open_page(browser, sample, 375, "light")
    texts = page.evaluate(TEXT_SIZES)
    page.close()
    assert texts == [{"size": 14, "item": True, "text": "item"}, {"size": 12, "item": False, "text": "footer"}]
