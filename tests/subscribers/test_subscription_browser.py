"""Subscribing as a person does it, in a real browser (Debian's chromium through Playwright): the
home page's form, the subscribe page, the link in the email, preferences, and the unsubscribe
button — on a desktop and a phone width. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser
from sqlalchemy import select

from digest.config import load_config
from digest.db import upgrade
from digest.delivery.message import site_links
from digest.models import Subscriber
from digest.runtime import Runtime
from digest.web import create_app
from tests.browser import screenshot, scroll_width, serving
from tests.factories import make_item
from tests.smtpserver import free_port


@pytest.fixture
def served(write_config: Callable[..., Path]) -> Iterator[tuple[str, Flask, Runtime]]:
    port = free_port()
    site = f"http://127.0.0.1:{port}"  # the links in emails lead back to this server
    runtime = Runtime(load_config(write_config(site={"name": "Test Cluster Platform", "base_url": site}), environ={}))
    upgrade(runtime.engine)
    with runtime.sessions() as session, session.begin():
        make_item(session, "Hydrogen valleys", topics=["Energy", "Hydrogen"])
    app = create_app(runtime)
    try:
        with serving(app, port):
            yield site, app, runtime
    finally:
        app.extensions["digest.mailer"].close()
        runtime.close()


def confirmation_link(app: Flask, outbox: Path, address: str) -> str:
    app.extensions["digest.mailer"].flush()
    [mail] = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in outbox.glob(f"{address}-*.eml")]
    return re.search(r"(http://\S+/confirm/\S+)", mail.get_content()).group(1)


@pytest.mark.parametrize("width", [1280, 390])
def test_a_person_subscribes_confirms_chooses_and_unsubscribes(
    served: tuple[str, Flask, Runtime], browser: Browser, width: int
) -> None:
    site, app, runtime = served
    address = f"browser{width}@example.org"
    page = browser.new_page(viewport={"width": width, "height": 900})

    page.goto(site + "/")
    page.get_by_label("Get the next edition by email").fill(address)
    page.get_by_role("button", name="Subscribe").first.click()
    page.wait_for_url(re.compile(r".*/subscribe\?email="))
    assert page.get_by_label("Email address").input_value() == address
    page.get_by_label("Newsletters").uncheck()
    page.get_by_label("Hydrogen").check()
    screenshot(page, f"subscribe-{width}.png", full_page=True)
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()

    page.goto(confirmation_link(app, runtime.config.outbox_dir, address))
    page.get_by_role("heading", name="Confirm your subscription").wait_for()  # opening the link is not enough
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    page.get_by_role("link", name="Choose what you receive").click()
    page.get_by_role("heading", name="Your subscription").wait_for()
    assert scroll_width(page) <= width
    assert page.get_by_label("Hydrogen").is_checked() and not page.get_by_label("Newsletters").is_checked()
    page.get_by_label("Language").select_option("fr")
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_text("Vos préférences sont enregistrées.").wait_for()  # the page follows the language chosen
    assert page.locator("html").get_attribute("lang") == "fr"
    screenshot(page, f"preferences-{width}.png", full_page=True)

    page.get_by_role("button", name="Se désabonner").click()
    page.get_by_role("heading", name="Vous êtes désabonné").wait_for()
    with runtime.sessions() as session:
        subscriber = session.scalar(select(Subscriber).where(Subscriber.email == address))
    assert (subscriber.status, subscriber.language) == ("unsubscribed", "fr")
    assert subscriber.preferences == {"editions": ["digest"], "topics": ["Hydrogen"]}
    page.close()


def _subscriber(runtime: Runtime, address: str, language: str) -> str:
    """An active subscriber reading `language`; their uid."""
    with runtime.sessions() as session, session.begin():
        preferences = {"editions": ["digest"], "topics": []}
        subscriber = Subscriber(email=address, status="active", language=language, preferences=preferences)
        session.add(subscriber)
        session.flush()
        return subscriber.uid


def test_a_spanish_subscriber_reaches_spanish_pages_from_the_email(
    served: tuple[str, Flask, Runtime], browser: Browser
) -> None:
    site, _, runtime = served
    links = site_links(site, runtime.secret_key)
    uid = _subscriber(runtime, "lectora@example.org", "es")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(links.preferences_url(uid))  # the email's "Gestionar sus preferencias"
    page.get_by_role("heading", name="Su suscripción").wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("button", name="Guardar preferencias").is_visible()
    assert page.get_by_label("Idioma").input_value() == "es" and page.get_by_text("Temas", exact=True).count() == 1
    assert page.get_by_role("link", name="Aviso de privacidad").count() == 1  # the site's frame too
    screenshot(page, "preferences-es.png", full_page=True)

    page.goto(links.unsubscribe_url(uid))
    page.get_by_role("heading", name="Darse de baja").wait_for()
    page.get_by_role("button", name="Darse de baja").click()
    page.get_by_role("heading", name="Se ha dado de baja").wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    page.close()

