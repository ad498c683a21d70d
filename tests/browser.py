"""What every browser test shares: Debian's chromium, its flags, the app served by waitress, and the
page helpers (widths, screenshots).

Playwright drives /usr/bin/chromium (installed by `make test` and .ci/run); it never downloads
a browser of its own. The flags keep chromium off the network it cannot reach here. The `browser`
fixture is registered for every test by tests/conftest.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Frame, Locator, Page, sync_playwright
from waitress import create_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Debian chromium driven by Playwright."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium per test module; each test opens pages of its own."""
    with chromium() as launched:
        yield launched


@contextmanager
def serving(app: Flask, port: int = 0, threads: int = 4) -> Iterator[str]:
    """The app served by waitress on 127.0.0.1 in a thread, as `digest serve` serves it; yields its URL.
    Port 0 picks a free one; name a port when the app must know its address before it starts."""
    server = create_server(app, host="127.0.0.1", port=port, threads=threads)
    stopping = threading.Event()
    thread = threading.Thread(target=_run_until, args=(server, stopping), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stopping.set()
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
    assert not thread.is_alive(), "waitress's loop did not stop"


def _run_until(server: Any, stopping: threading.Event) -> None:
    """waitress's loop, one pass at a time until `stopping` is set; then this thread, the only one that waits
    on the server's sockets, closes them all (the listener, the trigger, open connections). Closing them from
    another thread while the loop waits in select() fails with "Bad file descriptor" (waitress issue 468), and
    so did asking the loop to close them through its trigger: once in a CI run the trigger's pipe was already
    closed when the test ended. The pass's timeout only bounds how long a stop takes to be noticed; requests
    wake the loop through their sockets and the trigger."""
    while not stopping.is_set():
        server.asyncore.loop(timeout=0.05, map=server._map, count=1)  # waitress keeps its sockets in _map
    for dispatcher in list(server._map.values()):
        dispatcher.close()


def scroll_width(page: Page | Frame) -> int:
    """How wide the document is, in CSS pixels: wider than the viewport means a sideways scroll."""
    return page.evaluate("document.documentElement.scrollWidth")


def fits_the_width(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def screenshot(target: Page | Locator, name: str, full_page: bool = False) -> None:
    """Saved as test-artifacts/NAME for a person to look at; nothing is compared."""
    ARTIFACTS.mkdir(exist_ok=True)
    if isinstance(target, Page):
        target.screenshot(path=str(ARTIFACTS / name), full_page=full_page)
    else:
        target.screenshot(path=str(ARTIFACTS / name))
