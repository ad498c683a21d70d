"""Every JSON endpoint answers problems in one shape, {"errors": [{"field", "message"}]}: 422 with every
field's problem at once for validation, 400 for a body that is not a JSON object, 401/409/413/429 with
one error about the request. A title with a line break is refused, not silently joined."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from digest.runtime import Runtime
from tests.submissions.helpers import Site, running_site, valid


@pytest.fixture
def site(runtime: Runtime) -> Iterator[Site]:
    with running_site(runtime) as site:
        yield site


def errors_of(response: TestResponse, status: int) -> list[dict[str, Any]]:
    """The errors, after checking the shape: only "errors", each with exactly a field and a message."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert list(body) == ["errors"] and body["errors"]
    for error in body["errors"]:
        assert set(error) == {"field", "message"}
        assert error["field"] is None or isinstance(error["field"], str)
        assert isinstance(error["message"], str) and error["message"] and "\n" not in error["message"]
    return body["errors"]


def fields_of(errors: list[dict[str, Any]]) -> list[str | None]:
    return [error["field"] for error in errors]


def test_subscribe_json_names_every_bad_field_at_once(site: Site) -> None:
    body = {"email": "not an address", "editions": ["digest", "weekly"], "topics": "hydrogen", "language": "xx",
            "name": 7, "colour": "blue"}  # fmt: skip

    errors = errors_of(site.client().post("/subscribe", json=body), 422)

    assert sorted(fields_of(errors)) == ["colour", "editions", "email", "language", "name", "topics"]
    said = {error["field"]: error["message"] for error in errors}
    assert "not a valid email address" in said["email"] and "weekly" in said["editions"]
    assert said["topics"] == "Must be a list of strings." and said["language"].startswith("Unknown language")


def test_subscribe_json_without_an_object_is_400_in_the_same_shape(site: Site) -> None:
    for answer in (site.client().post("/subscribe", json=["a@example.org"]),
                   site.client().post("/subscribe", data="{", content_type="application/json")):  # fmt: skip
        [error] = errors_of(answer, 400)
        assert error["field"] is None and "JSON object" in error["message"]


def test_a_valid_subscribe_json_still_answers_202(site: Site) -> None:
    answer = site.client().post("/subscribe", json={"email": "reader@example.org", "editions": ["digest"]})
    assert answer.status_code == 202 and answer.get_json()["status"] == "confirmation_sent"


def test_submissions_api_names_every_bad_field_and_refuses_a_title_with_a_line_break(site: Site) -> None:
    body = valid("event", title="Cluster event\nworth telling", url="javascript:alert(1)", contact_email="x",
                  starts_at="tomorrow", organisation="Basque\r\nHydrogen Cluster", colour="blue")  # fmt: skip

    errors = errors_of(site.api(body), 422)

    assert set(fields_of(errors)) == {"colour", "title", "url", "organisation", "contact_email", "starts_at"}
    said = {error["field"]: error["message"] for error in errors}
    assert said["title"] == said["organisation"] == "Write this on one line: it holds a line break."
    assert site.items() == []  # nothing stored


def test_a_title_with_a_line_break_is_refused_on_the_form_too(site: Site) -> None:
    page = site.form(valid("news", title="Two\nlines"))
    assert page.status_code == 400 and "Write this on one line" in page.get_data(as_text=True)
    assert site.items() == []


def test_submissions_api_refusals_of_the_whole_request_share_the_shape(site: Site) -> None:
    [not_json] = errors_of(site.api(None, data="[]", content_type="application/json"), 400)
    too_large = errors_of(site.api(valid("news", summary="x" * 200_000)), 413)
    assert not_json["field"] is None and fields_of(too_large) == [None]


def test_an_editor_json_endpoint_logged_out_shares_the_shape(app: Flask) -> None:
    [logged_out] = errors_of(app.test_client().get("/editor/editions/1/progress.json"), 401)
    assert logged_out["field"] is None and "log in again" in logged_out["message"]
    # The 409 of a refused move (drag and drop) is checked in tests/web/test_editor_editions.py.
