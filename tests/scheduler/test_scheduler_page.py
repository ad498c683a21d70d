"""The editors' schedule page: each job's schedule, next run and last result (start, end, outcome, error),
whether a scheduler is running; behind the login; readable on a phone (chromium)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Browser

from digest.audit import SYSTEM
from digest.editions.lifecycle import schedule
from digest.editions.newsletter import create_newsletter
from digest.editors.accounts import add_editor
from digest.models import utcnow
from digest.runtime import Runtime
from digest.web import create_app
from scheduler.lock import Lease
from scheduler.runner import Runner
from tests.browser import screenshot, serving
from tests.factories import make_item, store_unknown_kind

PASSWORD = "correct horse battery"


@pytest.fixture
def scheduled_runtime(runtime: Runtime) -> Runtime:
    """Two hours ago a scheduler ran every job once; the scheduled edition it found did not render."""
    then = utcnow() - timedelta(hours=2)
    with runtime.sessions() as session, session.begin():
        add_editor(session, SYSTEM, "editor@example.org", PASSWORD)
        broken = make_item(session, "An item of a kind no template knows", published_at=then - timedelta(hours=1))
        edition = create_newsletter(session, "Europe/Brussels", title="Broken newsletter", now=then)
        schedule(session, SYSTEM, edition.id, then + timedelta(seconds=1), now=then)
        store_unknown_kind(session, broken)
    Runner(runtime, owner="host:42:abcdef").run_due(then + timedelta(minutes=1))
    return runtime


def logged_in(runtime: Runtime) -> FlaskClient:
    client = create_app(runtime).test_client()
    page = client.get("/editor/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/editor/login", data={"email": "editor@example.org", "password": PASSWORD, "csrf_token": token})
    return client


def test_the_schedule_page_needs_a_login(runtime: Runtime) -> None:
    response = create_app(runtime).test_client().get("/editor/schedule")
    assert response.status_code == 302 and response.headers["Location"].startswith("/editor/login")


def test_the_page_shows_each_jobs_next_run_and_last_result(scheduled_runtime: Runtime) -> None:
    page = logged_in(scheduled_runtime).get("/editor/schedule").get_data(as_text=True)
    for job, schedule_text in [
        ("collect", "*/30 * * * *"),
        ("expire_calls", "5 * * * *"),
        ("digest_assemble", "0 7 * * mon"),
        ("send_scheduled", "* * * * *"),
        ("cleanup", "30 3 * * *"),
    ]:
        row = re.search(rf'<tr id="job-{job}">(.*?)</tr>', page, re.S).group(1)
        assert f"<code>{schedule_text}</code>" in row
    send_row = re.search(r'<tr id="job-send_scheduled">(.*?)</tr>', page, re.S).group(1)
    assert '<span class="badge outcome-error">error</span>' in send_row
    assert "edition 1 was not sent: item" in send_row and "unknown kind" in send_row and "told 1 editor" in send_row
    assert "Due since" in send_row  # its every-minute trigger passed many times without a scheduler
    assembly_row = re.search(r'<tr id="job-digest_assemble">(.*?)</tr>', page, re.S).group(1)
    assert "skipped" in assembly_row and "first start: the first run is Monday" in assembly_row
    assert "No scheduler is running" in page and "Times in Europe/Brussels." in page
    assert 'href="/editor/schedule" class="active">Schedule</a>' in page


def test_the_page_names_the_running_scheduler(scheduled_runtime: Runtime) -> None:
    Lease(scheduled_runtime.sessions, "host:42:abcdef", 60).acquire()
    page = logged_in(scheduled_runtime).get("/editor/schedule").get_data(as_text=True)
    assert "Scheduler running: <code>host:42:abcdef</code>" in page and "No scheduler is running" not in page


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_reads_on_a_desktop_and_a_phone(scheduled_runtime: Runtime, browser: Browser, width: int) -> None:
    with serving(create_app(scheduled_runtime), threads=2) as site:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{site}/editor/schedule")
        page.fill("input[name=email]", "editor@example.org")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/editor/schedule")
        assert page.locator("#job-send_scheduled .outcome-error").inner_text() == "error"
        # The page's own content, below the editors' shared header bar.
        overflow = page.evaluate(
            "Math.max(...Array.from(document.querySelectorAll('main *'))"
            ".map(e => e.getBoundingClientRect().right)) - window.innerWidth"
        )
        screenshot(page, f"schedule-{width}.png", full_page=True)
        page.close()
    assert overflow <= 0  # on a phone each job is a stack of labelled lines, nothing runs off the screen
