"""Abuse: the honeypot, CSRF on the form, the rate limit per client address (429 with Retry-After),
the body size limit (413), and hostile markup in every field — checked in what is stored and in every
page and message that shows it: the editors' queue and item page, the edition preview, the email, the
archive, the status page and the submitter's emails."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable, Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from digest.config import load_config
from digest.db import upgrade
from digest.models import Item, Submission
from digest.runtime import Runtime
from tests.cli import digest, digest_json
from tests.editor_helpers import EDITOR, add_accounts, desk
from tests.submissions.helpers import Site, csrf_token, error_of, live_markup, running_site, valid


@pytest.fixture
def site(runtime: Runtime) -> Iterator[Site]:
    with running_site(runtime) as site:
        yield site


@pytest.fixture
def configured_site(write_config: Callable[..., Path]) -> Iterator[Callable[..., Site]]:
    """A site whose `submissions:` section the test chooses."""
    opened: list[tuple[Runtime, object]] = []

    def open_site(web: dict[str, object] | None = None, **submissions: object) -> Site:
        runtime = Runtime(load_config(write_config(submissions=submissions, web=web or {}), environ={}))
        upgrade(runtime.engine)
        context = running_site(runtime)
        opened.append((runtime, context))
        return context.__enter__()

    yield open_site
    for runtime, context in opened:
        context.__exit__(None, None, None)
        runtime.close()


# --------------------------------------------------------------------------- honeypot


def test_a_form_with_the_honeypot_filled_is_thanked_and_stored_nowhere(site: Site) -> None:
    response = site.form(valid("news", website="http://cheap-pills.example"))

    assert response.status_code == 200
    assert "Thank you: we received your submission" in response.get_data(as_text=True)
    assert site.submissions() == [] and site.items() == []
    assert site.mails_to("ane@cluster.example.eu") == []


def test_the_api_refuses_the_honeypot_field_plainly(site: Site) -> None:
    response = site.api(valid("news", website="http://cheap-pills.example"))

    assert response.status_code == 422
    assert error_of(response, "website") == ["Leave this field out: it is a trap for robots."]
    assert site.submissions() == []


# --------------------------------------------------------------------------- CSRF


def test_the_form_without_its_csrf_token_is_refused_and_keeps_the_input(site: Site) -> None:
    client = site.client()
    client.get("/submit")

    response = client.post("/submit", data=valid("news"))

    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Please send the form again" in page
    assert 'value="Cluster news worth telling"' in page and csrf_token(page)  # a fresh token to send it with
    assert site.submissions() == []


def test_a_token_from_another_session_is_refused(site: Site) -> None:
    token = csrf_token(site.client().get("/submit").get_data(as_text=True))
    other = site.client()
    other.get("/submit")

    response = other.post("/submit", data={"csrf_token": token, **valid("news")})

    assert response.status_code == 400 and site.submissions() == []


def test_the_json_api_needs_no_csrf_token(site: Site) -> None:
    assert site.api(valid("news")).status_code == 201


# --------------------------------------------------------------------------- rate limit


def test_the_rate_limit_counts_every_attempt_from_an_address_then_answers_429(configured_site) -> None:
    site = configured_site(rate_limit_per_hour=3)
    client = site.client("198.51.100.7")
    assert site.api(valid("news", title="First of three"), client=client).status_code == 201
    assert site.api({"kind": "news"}, client=client).status_code == 422  # refused attempts count too
    assert site.form(valid("news", title="Third of three"), client=client).status_code == 200  # form and API share

    refused = site.api(valid("news", title="Fourth one"), client=client)
    page = site.form(valid("news", title="Fifth one"), client=client)

    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 3600
    [error] = refused.get_json()["errors"]
    assert error["message"].startswith("Too many submissions from your address: at most 3 an hour. Try again in")
    assert page.status_code == 429 and "Too many submissions from your address" in page.get_data(as_text=True)
    assert "Retry-After" in page.headers
    assert [s.payload["title"] for s in site.submissions()] == ["First of three", "Third of three"]
    assert site.api(valid("news", title="From elsewhere"), client=site.client("198.51.100.8")).status_code == 201
    assert site.client("198.51.100.7").get("/submit").status_code == 200  # reading the form is not limited


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(configured_site) -> None:
    direct = configured_site(rate_limit_per_hour=1)
    spoofer = direct.client("203.0.113.9")
    assert direct.api(valid("news"), client=spoofer, headers={"X-Forwarded-For": "10.0.0.1"}).status_code == 201
    assert direct.api(valid("news"), client=spoofer, headers={"X-Forwarded-For": "10.0.0.2"}).status_code == 429

    proxied = configured_site(rate_limit_per_hour=1, web={"trusted_proxies": 1})
    proxy = proxied.client("127.0.0.1")
    first = proxied.api(valid("news", title="From one reader"), client=proxy, headers={"X-Forwarded-For": "10.0.0.1"})
    second = proxied.api(valid("news", title="From another"), client=proxy, headers={"X-Forwarded-For": "10.0.0.2"})
    again = proxied.api(valid("news", title="One more from the first"), client=proxy,
                        headers={"X-Forwarded-For": "10.0.0.1"})  # fmt: skip
    assert (first.status_code, second.status_code, again.status_code) == (201, 201, 429)
    assert [s.client_address for s in proxied.submissions()][-2:] == ["10.0.0.1", "10.0.0.2"]  # one database


# --------------------------------------------------------------------------- body size


def test_a_body_over_the_limit_is_413_with_a_clear_message(configured_site) -> None:
    site = configured_site(max_body_bytes=8192)

    api = site.api(valid("news", summary="x" * 9000))
    form = site.form(valid("news", summary="x" * 9000))

    assert api.status_code == 413
    assert api.get_json()["errors"][0]["message"].startswith("This submission is too large: at most 8 KB")
    assert form.status_code == 413 and "This submission is too large: at most 8 KB" in form.get_data(as_text=True)
    assert site.submissions() == []


def post_chunked(site: Site, body: bytes) -> tuple[int, dict]:
    """POST the body in chunks, without its length, through a real HTTP server that streams it to the
    app (waitress instead counts a chunked body and states its length, which the first check catches)."""
    server = make_server("127.0.0.1", 0, site.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        chunks = (body[start : start + 4096] for start in range(0, len(body), 4096))
        connection.request("POST", "/api/submissions", body=chunks, encode_chunked=True,
                           headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})  # fmt: skip
        response = connection.getresponse()
        answer = json.loads(response.read())
        connection.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
    return response.status, answer


def test_a_body_sent_without_its_length_is_held_to_the_same_limit(configured_site) -> None:
    site = configured_site(max_body_bytes=8192)

    status, answer = post_chunked(site, json.dumps(valid("news", summary="x" * 20000)).encode())
    assert status == 413 and "too large" in answer["errors"][0]["message"]
    assert site.submissions() == []

    status, answer = post_chunked(site, json.dumps(valid("news", summary="x" * 2000)).encode())
    assert status == 201 and answer["status"] == "pending"


def test_the_largest_valid_submission_fits_the_default_limit(site: Site) -> None:
    # 3,000 four-byte characters, percent-encoded by the browser: 36 KB of summary alone
    response = site.form(valid("news", summary="𝔘" * 3000, title="𝔘" * 200, organisation="𝔘" * 300))

    assert response.status_code == 200


# --------------------------------------------------------------------------- hostile markup

HOSTILE = {
    "title": "<script>alert('xss-title')</script>Hydrogen <img src=x onerror=alert('xss-title')>week",
    "summary": (
        "<script>alert('xss-summary')</script> [click](javascript:alert('xss-summary')) "
        "<a href=\"javascript:alert('xss-summary')\">x</a> <svg onload=alert('xss-summary')> "
        "\"><iframe src=\"javascript:alert('xss-summary')\"></iframe> &lt;script&gt;alert('xss-summary')&lt;/script&gt;"
    ),
    "url": "https://cluster.example.eu/a?q=\"><script>alert('xss-url')</script>",
    "image_url": "https://cluster.example.eu/h2.png\" onerror=\"alert('xss-image')",
    "organisation": "<b onmouseover=alert('xss-organisation')>Hydrogen</b> Cluster",
    "country": "Spain<script>alert('xss-country')</script>",
    "contact_name": "Ane\"><script>alert('xss-contact')</script>",
    "location": "<iframe src=javascript:alert('xss-location')></iframe>Bilbao",
}
LIVE = re.compile(r"<script|<iframe|<svg|onerror|onload|onmouseover|javascript:", re.IGNORECASE)


def hostile_event(**changes: str) -> dict[str, str]:
    return valid("event", **HOSTILE) | changes


def stored_text(submission: Submission, item: Item) -> dict[str, str]:
    values = {f"item.{name}": getattr(item, name) for name in ("title", "summary", "url", "image_url",
                                                                 "organisation", "country", "location")}  # fmt: skip
    values |= {f"submission.{name}": getattr(submission, name) for name in ("organisation", "contact_name")}
    values |= {f"payload.{key}": value for key, value in submission.payload.items() if isinstance(value, str)}
    return values


@pytest.mark.parametrize("way", ["api", "form"])
def test_hostile_markup_in_every_field_is_stored_as_harmless_text(site: Site, way: str) -> None:
    response = site.api(hostile_event()) if way == "api" else site.form(hostile_event())

    assert response.status_code in (200, 201)
    [submission] = site.submissions()
    [item] = site.items()
    for name, value in stored_text(submission, item).items():
        if name.endswith("url"):  # a link may say anything, but cannot leave its attribute or run
            assert not re.search(r"[\"<>\s`]", value) and value.startswith("https://"), (name, value)
        else:
            assert not LIVE.search(value or ""), (name, value)
    assert item.title == "Hydrogen week" and item.organisation == "Hydrogen Cluster" and item.location == "Bilbao"
    assert item.url == "https://cluster.example.eu/a?q=%22%3E%3Cscript%3Ealert('xss-url')%3C/script%3E"
    page = response.get_data(as_text=True)
    assert live_markup(page, "xss-") == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("contact_email", "ane+<script>@cluster.example.eu"), ("timezone", "<script>alert('xss-timezone')</script>"),
     ("kind", "<script>alert('xss-kind')</script>"), ("starts_at", "<script>alert('xss-start')</script>")],
)  # fmt: skip
def test_hostile_values_in_checked_fields_are_refused_and_not_echoed_live(site: Site, field: str, value: str) -> None:
    api = site.api(hostile_event(**{field: value}))
    form = site.form(hostile_event(**{field: value}))

    assert api.status_code == 422 and error_of(api, field)
    assert form.status_code == 400 and live_markup(form.get_data(as_text=True), "xss-") == []
    assert site.submissions() == []


def test_hostile_submission_is_harmless_in_the_queue_preview_email_archive_and_status_page(
    site: Site, runtime: Runtime, tmp_path: Path
) -> None:
    config = runtime.config.path
    body = site.api(hostile_event()).get_json()
    item_id = body["item_id"]
    add_accounts(runtime)
    editor = desk(site.app, EDITOR)
    status_page = site.client().get(body["status_url"].removeprefix("http://digest.test")).get_data(as_text=True)
    pages = {
        "queue": editor.page("/editor/?status=pending"),
        "item": editor.page(f"/editor/items/{item_id}"),
        "status page": status_page,
    }
    assert "Hydrogen week" in pages["queue"] and "Hydrogen week" in pages["item"]

    digest("queue", "approve", str(item_id), config=config)
    edition = digest_json("edition", "create", "--type", "newsletter", config=config)
    digest("edition", "preview", str(edition["id"]), "--out", str(tmp_path / "p.html"), "--text",
           str(tmp_path / "p.txt"), config=config)  # fmt: skip
    digest("subscribers", "add", "reader@example.org", "--confirmed", config=config)
    digest("edition", "send", str(edition["id"]), config=config)
    digest("worker", "--drain", config=config)
    [mail] = [BytesParser(policy=policy.default).parsebytes(p.read_bytes())
              for p in runtime.config.outbox_dir.glob("reader@example.org-*.eml")]  # fmt: skip
    pages["preview"] = (tmp_path / "p.html").read_text()
    pages["email"] = mail.get_body(("html",)).get_content()
    pages["archive"] = site.client().get(f"/archive/{edition['slug']}").get_data(as_text=True)
    pages["archive feed"] = site.client().get("/archive/items.xml").get_data(as_text=True)

    for name, page in pages.items():
        assert live_markup(page, "xss-") == [], name
    assert "Hydrogen week" in pages["email"] and "Hydrogen week" in pages["archive"]
    texts = {"text part": mail.get_body(("plain",)).get_content(), "preview text": (tmp_path / "p.txt").read_text()}
    texts |= {f"mail to submitter {n}": m.get_content() for n, m in enumerate(site.mails_to("ane@cluster.example.eu"))}
    for name, text in texts.items():
        assert not re.search(r"<script|<iframe|onerror=|onmouseover=", text), name
