"""A week at the editors' desk in a real browser (Debian's chromium through Playwright): log in, approve
and feature items, assemble the digest, reorder it by drag and drop and by the arrows, preview it at
600 and 375 px and as text, send a test (received by a real SMTP server), schedule it, and watch it go
out. Screenshots of the queue, the edition and the preview go to test-artifacts/."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from digest.delivery.worker import Worker
from digest.editions.core import get_edition
from digest.models import Edition, Item
from digest.runtime import Runtime
from digest.web import create_app
from scheduler.runner import Runner
from tests.browser import screenshot, scroll_width, serving
from tests.delivery_helpers import smtp_runtime_for
from tests.editor_helpers import ADMIN, PASSWORD, add_accounts
from tests.factories import make_item, make_subscribers
from tests.smtpserver import RecordingHandler, free_port, smtp_server

DESKTOP = {"width": 1440, "height": 960}
PHONE = {"width": 390, "height": 844}


@dataclass
class Desk:
    url: str
    runtime: Runtime
    mail: RecordingHandler


@pytest.fixture
def desk(write_config: Callable[..., Path]) -> Iterator[Desk]:
    """The app served by waitress, mailing through a real SMTP server, with a week of pending items."""
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    with smtp_server() as (handler, smtp_port):
        runtime = smtp_runtime_for(write_config, smtp_port, site={"name": "Test Cluster Platform", "base_url": site})
        add_accounts(runtime)
        _pending_week(runtime)
        try:
            with serving(create_app(runtime), port):
                yield Desk(site, runtime, handler)
        finally:
            runtime.close()


def _pending_week(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    with runtime.sessions() as session, session.begin():
        for number, (title, country) in enumerate(
            [
                ("Hydrogen valleys network welcomes five new regions", "Spain"),
                ("Textile clusters launch a digital product passport pilot", "Portugal"),
                ("Photonics cluster publishes its 2030 roadmap", "France"),
            ]
        ):
            make_item(session, title, status="pending", country=country, published_at=now - timedelta(days=number + 1))
        make_item(session, "Battery forum in Graz", kind="event", status="pending", starts_at=now + timedelta(days=9))
        make_item(session, "Call for digital SMEs", kind="call", status="pending", deadline=now + timedelta(days=6))
        make_item(session, "Call for mobility pilots", kind="call", status="pending", deadline=now + timedelta(days=40))
        make_item(session, "An off-topic press release", status="pending", country="Nowhere")
        make_subscribers(session, 3)


def row(page: Page, title: str) -> Locator:
    return page.locator("tr", has_text=title)


def titles_in(page: Page, section: str) -> list[str]:
    return page.locator(f'ol.entries[data-section="{section}"] .what > a').all_inner_texts()


def test_a_week_at_the_editors_desk(desk: Desk, browser: Browser) -> None:
    page = browser.new_page(viewport=DESKTOP)

    # Monday morning: log in, the queue.
    page.goto(desk.url + "/editor/")
    expect(page).to_have_url(f"{desk.url}/editor/login?next=/editor/")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(7)
    assert scroll_width(page) <= DESKTOP["width"]
    screenshot(page, "editor-queue.png", full_page=True)

    # Approve one, two more in bulk, feature one, reject the off-topic one with a note.
    row(page, "Hydrogen valleys network").get_by_role("button", name="Approve").click()
    expect(page.locator(".flash.ok")).to_have_text("Approved 1 item")
    for title in ("Textile clusters launch", "Battery forum in Graz", "Call for digital SMEs", "Call for mobility"):
        row(page, title).get_by_role("checkbox").check()
    page.locator("#bulk").get_by_role("button", name="Approve").click()
    expect(page.locator(".flash.ok")).to_have_text("Approved 4 items")
    off_topic = row(page, "An off-topic press release")
    off_topic.locator("summary", has_text="Reject…").click()
    off_topic.get_by_label("Note (why; the team sees it)").fill("Not about clusters")
    off_topic.get_by_role("button", name="Reject", exact=True).click()
    expect(page.locator(".flash.ok")).to_contain_text("with the note “Not about clusters”")
    page.locator(".tabs a", has_text="Approved").click()
    row(page, "Textile clusters launch").get_by_role("button", name="☆ Feature").click()
    expect(row(page, "Textile clusters launch").locator(".badge.feat")).to_be_visible()

    # Assemble the digest.
    page.get_by_role("link", name="Editions", exact=True).first.click()
    page.get_by_role("button", name="Assemble the digest").click()
    expect(page.locator(".flash.ok")).to_contain_text("Assembled this week's digest: 5 items.")
    edition_url = page.url
    assert titles_in(page, "News") == [
        "Textile clusters launch a digital product passport pilot",  # featured first
        "Hydrogen valleys network welcomes five new regions",
    ]
    assert titles_in(page, "Closing soon") == ["Call for digital SMEs"]

    # Reorder: drag the second news item to the top, then put it back with the arrow.
    hydrogen = page.locator(".entry", has_text="Hydrogen valleys network")
    textile = page.locator(".entry", has_text="Textile clusters launch")
    with page.expect_navigation():
        hydrogen.locator(".grip").drag_to(textile, target_position={"x": 40, "y": 3})
    assert titles_in(page, "News")[0] == "Hydrogen valleys network welcomes five new regions"
    page.get_by_role("button", name="Move “Hydrogen valleys network welcomes five new regions” down").click()
    assert titles_in(page, "News")[0] == "Textile clusters launch a digital product passport pilot"
    page.get_by_role("button", name="Move section Closing soon up").click()
    sections = page.locator(".section-head h3").all_inner_texts()
    assert [title.rsplit(" ", 1)[0] for title in sections] == ["News", "Closing soon", "Upcoming events", "Open calls"]

    # Preview at both widths and as text.
    page.get_by_label("Subject line").fill("Clusters this week: hydrogen, textiles, batteries")
    page.get_by_role("button", name="Save texts").click()
    preview = page.frame_locator("iframe.html-frame")
    expect(preview.get_by_text("Textile clusters launch a digital product passport pilot").first).to_be_visible()
    page.locator("#preview").scroll_into_view_if_needed()
    screenshot(page, "editor-edition.png")
    screenshot(page.locator("#preview"), "editor-preview-600px.png")
    page.get_by_text("Mobile · 375 px").click()
    assert page.locator("iframe.html-frame").evaluate("frame => frame.getBoundingClientRect().width") == 375
    frame = next(f for f in page.frames if f.url.endswith("/preview"))
    assert scroll_width(frame) <= 375  # nothing wider than the phone
    screenshot(page.locator("#preview"), "editor-preview-375px.png")
    page.get_by_text("Text part").click()
    expect(page.frame_locator("iframe.text-frame").locator("body")).to_contain_text("CLOSING SOON", ignore_case=True)

    # A test to the proofreader, received by the SMTP server.
    page.get_by_label("Send a test to").fill("proofreader@example.org")
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator(".flash.ok")).to_have_text("Sent a test to proofreader@example.org.")
    [test_mail] = desk.mail.received
    assert test_mail.recipients == ["proofreader@example.org"]
    assert test_mail.message["Subject"] == "[TEST] Clusters this week: hydrogen, textiles, batteries"

    # Schedule it for tomorrow morning, local time.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    page.get_by_label("Send at").fill(f"{tomorrow}T09:00")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator(".flash.ok")).to_contain_text("(Europe/Brussels).")
    expect(page.locator(".flash.ok")).to_be_in_viewport()  # the page opened at #send: the message stays in view
    expect(page.locator(".page-head .badge.status-scheduled")).to_be_visible()

    # Its time comes: the scheduler releases it; the page follows the delivery live until it is sent.
    with desk.runtime.sessions() as session:
        edition = session.scalar(select(Edition))
        due = edition.scheduled_at + timedelta(minutes=1)
    [released] = Runner(desk.runtime).run_due(due, only=["send_scheduled"])
    assert released.outcome == "ok" and f"edition {edition.id} is sending to 3 subscribers" in released.detail
    # No reload by hand: the open page follows the edition's status by itself.
    expect(page.locator("#progress")).to_have_attribute("data-status", "sending", timeout=20_000)
    expect(page.locator('[data-count="queued"]')).to_have_text("3")
    worker = Worker(desk.runtime)
    sending = threading.Thread(target=worker.drain)
    sending.start()
    expect(page.locator("#progress")).to_have_attribute("data-status", "sent", timeout=20_000)
    sending.join()
    worker.close()
    expect(page.locator('[data-count="sent"]')).to_have_text("3")
    assert sorted(r for mail in desk.mail.received[1:] for r in mail.recipients) == [
        "reader0@example.org",
        "reader1@example.org",
        "reader2@example.org",
    ]
    screenshot(page, "editor-sent.png")
    with desk.runtime.sessions() as session:
        sent = get_edition(session, edition.id)
        assert sent.status == "sent"
        assert {item.status for item in session.scalars(select(Item).where(Item.id.in_(sent_ids(sent))))} == {
            "published"
        }
    history = page.locator("#history").inner_text()
    for line in ("created", "moved an item", "reordered the sections", "sent a test", "scheduled"):
        assert line in history, line

    # The same desk on a phone: nothing wider than the screen.
    phone = browser.new_context(viewport=PHONE, storage_state=page.context.storage_state())
    small = phone.new_page()
    for path in ("/editor/?status=all", edition_url.removeprefix(desk.url)):
        small.goto(desk.url + path)
        assert scroll_width(small) <= PHONE["width"], path
    screenshot(small, "editor-edition-phone.png")
    phone.close()
    page.close()


def sent_ids(edition: Edition) -> list[int]:
    return [entry.item_id for entry in edition.entries]
