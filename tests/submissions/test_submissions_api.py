"""POST /api/submissions: 201 with the submission's id, status and status link (and the item in the
queue, marked as submitted, in one transaction), 422 with every field error, 400 for a body that is
not a JSON object; the status page that link opens; and the form's own path to the same result."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from digest.runtime import Runtime
from digest.submissions.status import status_path
from tests.cli import digest_json
from tests.conftest import TEST_SECRET
from tests.submissions.helpers import Site, running_site, valid


@pytest.fixture
def site(runtime: Runtime) -> Iterator[Site]:
    with running_site(runtime) as site:
        yield site


def test_a_valid_submission_answers_201_with_its_id_status_and_status_link(site: Site) -> None:
    response = site.api(valid("event"))

    assert response.status_code == 201
    body = response.get_json()
    [submission] = site.submissions()
    [item] = site.items()
    assert body == {
        "id": submission.id,
        "status": "pending",
        "item_id": item.id,
        "status_url": "http://digest.test" + status_path(TEST_SECRET, submission.id),
    }
    assert response.headers["Location"] == body["status_url"]
    assert (submission.item_id, submission.status) == (item.id, "pending")
    assert submission.client_address == "192.0.2.20"
    assert (item.status, item.origin, item.source_id, item.kind) == ("pending", "submission", None, "event")
    assert item.organisation == submission.organisation == "Basque Hydrogen Cluster"
    assert submission.contact_name == "Ane Etxeberria" and submission.contact_email == "ane@cluster.example.eu"
    assert submission.payload["title"] == item.title and submission.payload["location"] == "Bilbao"


def test_the_queue_lists_it_with_source_submission_and_the_organisation(site: Site, runtime: Runtime) -> None:
    site.api(valid("call"))

    [row] = digest_json("queue", "list", "--status", "pending", config=runtime.config.path)

    assert (row["source"], row["organisation"], row["kind"], row["title"]) == (
        "submission", "Basque Hydrogen Cluster", "call", "Cluster call worth telling",
    )  # fmt: skip
    assert row["deadline"] is not None and row["url"] == "https://cluster.example.eu/call/2026-hydrogen"


def test_422_lists_every_field_error_in_field_order(site: Site) -> None:
    response = site.api({"kind": "event", "title": "", "url": "javascript:alert(1)", "contact_email": "x"})

    assert response.status_code == 422
    assert response.get_json() == {
        "errors": [
            {"field": "title", "message": "Enter a title."},
            {"field": "summary", "message": "Write a short summary."},
            {"field": "url", "message": "Enter a full web address starting with http:// or https://."},
            {"field": "organisation", "message": "Enter your organisation's name."},
            {"field": "contact_name", "message": "Enter your name."},
            {"field": "contact_email", "message": "Enter a valid email address: An email address must have an @-sign."},
            {"field": "starts_at", "message": "Enter the start."},
        ]
    }


def test_unknown_fields_and_values_that_are_not_text_are_field_errors(site: Site) -> None:
    response = site.api(valid("news", title=42, summary=["a", "b"], deadine="2027-01-01"))

    assert response.status_code == 422
    errors = {error["field"]: error["message"] for error in response.get_json()["errors"]}
    assert errors["title"] == errors["summary"] == "Must be a string (text)."
    assert errors["deadine"].startswith("Unknown field; the fields are: kind, title, summary, url")
    assert len(response.get_json()["errors"]) == 3  # no "Enter a title." on top of the type error


def test_null_is_the_same_as_leaving_a_field_out(site: Site) -> None:
    assert site.api(valid("news", url=None, image_url=None, country=None)).status_code == 201
    [item] = site.items()
    assert (item.url, item.image_url, item.country) == (None, None, None)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("{not json", "application/json"), ('["a", "list"]', "application/json"), ("kind=news", "text/plain")],
)
def test_a_body_that_is_not_a_json_object_is_400(site: Site, data: str, content_type: str) -> None:
    response = site.client().post("/api/submissions", data=data, content_type=content_type)

    assert response.status_code == 400
    [error] = response.get_json()["errors"]
    assert error["field"] is None and "JSON object" in error["message"]


def test_the_status_page_shows_where_the_submission_stands(site: Site) -> None:
    url = site.api(valid("news")).get_json()["status_url"]

    response = site.client().get(url.removeprefix("http://digest.test"))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        "Cluster news worth telling" in page and "Waiting for an editor" in page and "Basque Hydrogen Cluster" in page
    )
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Referrer-Policy"] == "no-referrer"
    assert "ane@cluster.example.eu" not in page  # the contact is for the editors only


@pytest.mark.parametrize("token", ["IjEi.forged-signature", "garbage", "MQ"])
def test_a_forged_status_link_is_404(site: Site, token: str) -> None:
    site.api(valid("news"))

    response = site.client().get(f"/submit/status/{token}")

    assert response.status_code == 404 and "This link does not work" in response.get_data(as_text=True)


def test_the_form_stores_the_same_and_shows_a_confirmation_page(site: Site) -> None:
    response = site.form(valid("achievement"))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Thank you: we received your submission" in page and "Cluster achievement worth telling" in page
    [submission] = site.submissions()
    assert status_path(TEST_SECRET, submission.id) in page
    assert submission.client_address == "192.0.2.10"
    [item] = site.items()
    assert (item.origin, item.status, item.kind) == ("submission", "pending", "achievement")


def test_the_form_page_is_accessible_without_javascript(site: Site) -> None:
    page = site.client().get("/submit").get_data(as_text=True)

    for name in ("title", "summary", "url", "image_url", "organisation", "country", "contact_name", "contact_email",
                 "starts_at", "ends_at", "timezone", "location", "deadline"):  # fmt: skip
        assert f'<label for="{name}">' in page, name  # every field has its label
        assert f'aria-describedby="{name}-hint"' in page, name  # and its help text
    assert "Only for events." in page and "Only for open calls." in page  # shown when scripts do not run
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert 'class="sm-trap" aria-hidden="true"' in page and 'tabindex="-1"' in page  # the honeypot hides
