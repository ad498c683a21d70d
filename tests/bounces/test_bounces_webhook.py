"""POST /api/bounces: a relay's reports, behind a bearer token; recorded like the mailbox's reports."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from digest.runtime import Runtime
from digest.web import create_app
from tests.bounces.helpers import audit_lines, bounce_runtime, delivery_id_of, feedback_of, send_edition, status_of
from tests.browser import serving
from tests.smtpserver import RecordingHandler

TOKEN = "relay-webhook-token-0123456789abcdef"


@pytest.fixture
def relay_runtime(write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int]) -> Iterator[Runtime]:
    runtime = bounce_runtime(write_config, smtp[1], webhook_token=TOKEN, max_webhook_reports=5)
    yield runtime
    runtime.close()


@pytest.fixture
def client(relay_runtime: Runtime) -> FlaskClient:
    app: Flask = create_app(relay_runtime)
    return app.test_client()


def post(client: FlaskClient, body: object, token: str | None = TOKEN) -> object:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post("/api/bounces", json=body, headers=headers)


def test_a_hard_bounce_soft_bounce_and_complaint_from_the_relay(relay_runtime: Runtime, smtp, client) -> None:
    edition_id, sent = send_edition(relay_runtime, smtp[0], readers=3)
    hard, soft, complaining = sorted(sent)
    message_id = sent[hard].message["Message-ID"]
    body = [
        {"email": hard, "type": "hard", "reason": "550 5.1.1 no such user", "message_id": message_id},
        {"email": soft.upper(), "type": "soft", "reason": "mailbox full"},
        {"email": complaining, "type": "complaint"},
    ]
    response = post(client, body)
    assert response.status_code == 200
    reports = response.get_json()["reports"]
    assert [(r["kind"], r["subscriber"], r["action"]) for r in reports] == [
        ("hard", hard, "bounced"),
        ("soft", soft, "counted"),
        ("complaint", complaining, "complained"),
    ]
    assert reports[0]["delivery"] == delivery_id_of(relay_runtime, hard, edition_id)
    assert [status_of(relay_runtime, e) for e in (hard, soft, complaining)] == ["bounced", "active", "complained"]
    assert feedback_of(relay_runtime, soft, edition_id) == "soft"
    lines = audit_lines(relay_runtime)
    assert [(line.action, line.actor, line.detail["origin"]) for line in lines] == [
        ("bounce.hard", "relay", "webhook"),
        ("bounce.soft", "relay", "webhook"),
        ("bounce.complaint", "relay", "webhook"),
    ]
    again = post(client, body[0])  # the relay retrying: recorded once
    assert again.get_json()["reports"][0]["action"] == "duplicate"
    assert len(audit_lines(relay_runtime)) == 3


def test_the_token_is_required_and_no_token_means_no_endpoint(
    relay_runtime: Runtime, client, write_config: Callable[..., Path], smtp
) -> None:
    body = {"email": "reader0@example.org", "type": "hard"}
    for token in (None, "wrong", TOKEN[:-1], TOKEN + "x"):
        response = post(client, body, token)
        assert response.status_code == 401
        assert response.get_json()["errors"][0]["field"] is None
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.post("/api/bounces", json=body, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    closed = bounce_runtime(write_config, smtp[1])  # no webhook_token
    assert (
        create_app(closed)
        .test_client()
        .post("/api/bounces", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        .status_code
        == 404
    )
    closed.close()


def test_invalid_reports_are_422_naming_each_field_and_nothing_is_recorded(
    relay_runtime: Runtime, smtp, client
) -> None:
    _, sent = send_edition(relay_runtime, smtp[0], readers=1)
    [email] = sent
    response = post(
        client,
        [
            {"email": email, "type": "hard"},
            {"email": "not an address", "type": "bounce", "reason": 5, "extra": 1},
            {"type": "soft", "message_id": "x" * 301},
            "hard",
        ],
    )
    assert response.status_code == 422
    assert response.get_json() == {
        "errors": [
            {"field": "1.extra", "message": "Unknown field."},
            {"field": "1.email", "message": "Not a valid email address."},
            {"field": "1.type", "message": "Use hard, soft or complaint."},
            {"field": "1.reason", "message": "Must be a string."},
            {"field": "2.email", "message": "The recipient's address is required."},
            {"field": "2.message_id", "message": "At most 300 characters."},
            {"field": "3", "message": "Each report is an object with email and type."},
        ]
    }
    assert status_of(relay_runtime, email) == "active" and audit_lines(relay_runtime) == []
    single = post(client, {"email": email, "type": "hard", "reason": "bad\x00byte"})
    assert single.status_code == 422 and single.get_json()["errors"] == [
        {"field": "reason", "message": "Holds a control character."}
    ]
    too_many = post(client, [{"email": email, "type": "soft"}] * 6)
    assert too_many.status_code == 422 and "At most 5 reports" in too_many.get_json()["errors"][0]["message"]
    not_json = client.post("/api/bounces", data="email=x", headers={"Authorization": f"Bearer {TOKEN}"})
    assert not_json.status_code == 400 and not_json.get_json()["errors"][0]["field"] is None


def test_an_address_we_do_not_know_is_kept_not_dropped(relay_runtime: Runtime, client) -> None:
    response = post(client, {"email": "stranger@example.net", "type": "hard", "reason": "no such user"})
    assert response.status_code == 200
    [report] = response.get_json()["reports"]
    assert (report["kind"], report["action"], report["subscriber"]) == ("unknown", "kept", None)


def test_the_readme_curl_example_works_against_the_served_app(relay_runtime: Runtime, smtp) -> None:
    _, sent = send_edition(relay_runtime, smtp[0], readers=1)
    [email] = sent
    with serving(create_app(relay_runtime)) as url:
        result = subprocess.run(
            [
                "curl", "-sS", "-X", "POST", f"{url}/api/bounces",
                "-H", f"Authorization: Bearer {TOKEN}",
                "-H", "Content-Type: application/json",
                "-d", f'{{"email": "{email}", "type": "hard", "reason": "550 5.1.1 user unknown"}}',
            ],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
    assert '"action":"bounced"' in result.stdout.replace(" ", "")
    assert status_of(relay_runtime, email) == "bounced"
