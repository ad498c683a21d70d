"""Submitting as a person does it, in a real browser (Debian's chromium through Playwright): an event
(with a mistake corrected on the way) and an open call, on a desktop and a phone width; the fields
follow the chosen kind, and without JavaScript every field shows. The items end up in the queue,
marked as submitted, with their organisation. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from digest.config import load_config
from digest.db import upgrade
from digest.runtime import Runtime
from digest.web import create_app
from tests.browser import fits_the_width, screenshot, serving
from tests.cli import digest_json
from tests.smtpserver import free_port
from tests.submissions.helpers import local


@pytest.fixture
def served(write_config: Callable[..., Path]) -> Iterator[tuple[str, Runtime]]:
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    runtime = Runtime(load_config(write_config(site={"name": "Test Cluster Platform", "base_url": site}), environ={}))
    upgrade(runtime.engine)
    app = create_app(runtime)
    try:
        with serving(app, port):
            yield site, runtime
    finally:
        app.extensions["digest.mailer"].close()
        runtime.close()


def fill_sender(page: Page, organisation: str, email: str) -> None:
    page.get_by_label("Organisation").fill(organisation)
    page.get_by_label("Country").fill("Portugal")
    page.get_by_label("Your name").fill("Inês Costa")
    page.get_by_label("Your email address").fill(email)


@pytest.mark.parametrize("width", [1280, 390])
def test_a_person_submits_an_event_and_an_open_call(served, browser: Browser, width: int) -> None:
    site, runtime = served
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{site}/submit")
    expect(page.get_by_role("heading", name="Send us your news")).to_be_visible()
    expect(page.get_by_label("Starts")).to_be_hidden()  # no kind chosen yet: no kind's fields
    assert fits_the_width(page)

    # An event, with the address mistyped first
    page.get_by_label("Event", exact=True).check()
    expect(page.get_by_label("Starts")).to_be_visible()
    expect(page.get_by_label("Deadline")).to_be_hidden()
    page.get_by_label("Title").fill("Blue economy matchmaking in Porto")
    page.get_by_label("Summary").fill("Two days of **matchmaking** for maritime clusters.\n\n- pitches\n- site visits")
    page.get_by_label("Link", exact=True).fill("https://mar.example.pt/matchmaking")
    page.get_by_label("Starts").fill(local(25))
    page.get_by_label("Ends").fill(local(26, 17))
    page.get_by_label("Location").fill("Porto, Alfândega")
    page.get_by_label("Time zone").select_option("Europe/Lisbon")
    fill_sender(page, "Portuguese Maritime Cluster", "ines@mar")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("alert")).to_contain_text("Your email address: Enter a valid email address")
    email = page.get_by_label("Your email address")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Title")).to_have_value("Blue economy matchmaking in Porto")  # input kept
    expect(page.get_by_label("Starts")).to_be_visible()  # still the event's fields
    screenshot(page, f"submit-error-{width}px.png", full_page=True)
    email.fill("ines@mar.example.pt")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", name="Thank you: we received your submission")).to_be_visible()
    expect(page.get_by_text("“Blue economy matchmaking in Porto” from Portuguese Maritime Cluster")).to_be_visible()
    page.get_by_role("link", name="See its status").click()
    expect(page.get_by_text("Waiting for an editor")).to_be_visible()

    # An open call
    page.goto(f"{site}/submit")
    page.get_by_label("Open call").check()
    expect(page.get_by_label("Deadline")).to_be_visible()
    expect(page.get_by_label("Starts")).to_be_hidden()
    page.get_by_label("Title").fill("Open call: pilots for green ports")
    page.get_by_label("Summary").fill("Funding for SMEs testing clean port technologies.")
    page.get_by_label("Deadline").fill(local(40, 17))
    fill_sender(page, "Portuguese Maritime Cluster", "calls@mar.example.pt")
    assert fits_the_width(page)
    screenshot(page, f"submit-form-{width}px.png", full_page=True)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you: we received your submission")).to_be_visible()
    page.close()

    queue = {
        row["title"]: row for row in digest_json("queue", "list", "--status", "pending", config=runtime.config.path)
    }
    event, call = queue["Blue economy matchmaking in Porto"], queue["Open call: pilots for green ports"]
    assert (event["kind"], event["source"], event["organisation"]) == (
        "event",
        "submission",
        "Portuguese Maritime Cluster",
    )
    assert event["location"] == "Porto, Alfândega" and event["starts_at"] and event["ends_at"]
    assert (call["kind"], call["source"], call["organisation"]) == ("call", "submission", "Portuguese Maritime Cluster")
    assert call["deadline"] and call["starts_at"] is None  # the hidden event fields were not sent


def test_without_javascript_every_field_shows_and_the_form_still_works(served, browser: Browser) -> None:
    site, runtime = served
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site}/submit")
    for label in ("Starts", "Ends", "Location", "Deadline", "Time zone"):
        expect(page.get_by_label(label)).to_be_visible()
    expect(page.get_by_text("Only for events.")).to_be_visible()

    page.get_by_label("Achievement").check()
    page.get_by_label("Title").fill("Textile cluster wins the European award")
    page.get_by_label("Summary").fill("Recognised for its circular economy programme.")
    page.get_by_label("Deadline").fill("whenever")  # not an achievement's field: ignored
    fill_sender(page, "Textile Portugal", "award@textile.example.pt")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", name="Thank you: we received your submission")).to_be_visible()
    context.close()
    [row] = digest_json("queue", "list", config=runtime.config.path)
    assert (row["kind"], row["source"], row["organisation"]) == ("achievement", "submission", "Textile Portugal")
