"""Helpers for the submission tests: a site on a fresh database, valid fields of every kind (dates
relative to now), posting through the form (with its CSRF token) and the API, reading what was stored
and what was mailed, and a parser that finds live markup an attacker planted in a page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from digest.models import Item, Submission
from digest.runtime import Runtime
from digest.submissions.notices import tell_submitters
from digest.web import create_app

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FORM_CLIENT = "192.0.2.10"  # each test client gets its own address, so rate limits do not mix


def local(days: float, hour: int = 9) -> str:
    """A datetime-local value `days` from now at `hour`, as the form's inputs send it."""
    moment = datetime.now(UTC) + timedelta(days=days)
    return moment.replace(hour=hour, minute=0).strftime("%Y-%m-%dT%H:%M")


def valid(kind: str = "news", **overrides: Any) -> dict[str, Any]:
    """A submission every rule accepts."""
    fields: dict[str, Any] = {
        "kind": kind,
        "title": f"Cluster {kind} worth telling",
        "summary": "The **Basque hydrogen cluster** opens its doors.\n\n- two days\n- forty companies",
        "url": f"https://cluster.example.eu/{kind}/2026-hydrogen",
        "image_url": "https://cluster.example.eu/images/h2.jpg",
        "organisation": "Basque Hydrogen Cluster",
        "country": "Spain",
        "contact_name": "Ane Etxeberria",
        "contact_email": "ane@cluster.example.eu",
    }
    if kind == "event":
        fields |= {"starts_at": local(20), "ends_at": local(21, 17), "timezone": "Europe/Madrid", "location": "Bilbao"}
    if kind == "call":
        fields |= {"deadline": local(30, 17), "timezone": "Europe/Madrid"}
    return fields | overrides


@dataclass
class Site:
    app: Flask
    runtime: Runtime

    def client(self, address: str = FORM_CLIENT) -> FlaskClient:
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    def api(self, body: Any, client: FlaskClient | None = None, **kwargs: Any) -> TestResponse:
        return (client or self.client("192.0.2.20")).post("/api/submissions", json=body, **kwargs)

    def form(self, fields: dict[str, Any], client: FlaskClient | None = None) -> TestResponse:
        client = client or self.client()
        token = csrf_token(client.get("/submit").get_data(as_text=True))
        return client.post("/submit", data={"csrf_token": token, **fields})

    def submissions(self) -> list[Submission]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(Submission).order_by(Submission.id)))

    def items(self) -> list[Item]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(Item).order_by(Item.id)))

    def tell_submitters(self) -> int:
        """What the worker does every few seconds: send the submitters' emails that are due."""
        return tell_submitters(self.runtime.config, self.runtime.sessions, self.runtime.secret_key)

    def mails_to(self, address: str) -> list[EmailMessage]:
        """The outbox's messages to the address, oldest first, once the worker's pass has sent what is due."""
        self.tell_submitters()
        files = sorted(self.runtime.config.outbox_dir.glob(f"{address}-*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return [parse_mail(path.read_bytes()) for path in files]


@contextmanager
def running_site(runtime: Runtime) -> Iterator[Site]:
    """The web app on the runtime's database; its background mailer is stopped at the end."""
    app = create_app(runtime)
    try:
        yield Site(app, runtime)
    finally:
        app.extensions["digest.mailer"].close()


def csrf_token(page: str) -> str:
    match = CSRF.search(page)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def parse_mail(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


def status_link(message: EmailMessage) -> str:
    return re.search(r"https?://\S+(/submit/status/\S+)", message.get_content()).group(1)


def error_of(response: TestResponse, field: str) -> list[str]:
    return [error["message"] for error in response.get_json()["errors"] if error["field"] == field]


def field_error_on_page(page: str, field: str) -> str | None:
    """The error message shown next to a field of the form, if any."""
    match = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    return match.group(1) if match else None


# --------------------------------------------------------------------------- hostile markup


class LiveMarkup(HTMLParser):
    """Records what an attacker's markers would need to be dangerous: an element of a dangerous kind,
    an event-handler attribute, or a javascript:/data: URL, anywhere in the page."""

    DANGEROUS = frozenset({"script", "iframe", "object", "embed", "svg", "math", "form", "style", "base", "meta"})
    SCHEMES = ("javascript:", "data:", "vbscript:")

    def __init__(self, marker: str) -> None:
        super().__init__(convert_charrefs=True)
        self.marker = marker
        self.found: list[str] = []
        self._inside: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside.append(tag)
        for name, value in attrs:
            text = value or ""
            if name.startswith("on") and self.marker in text:
                self.found.append(f"<{tag} {name}={text!r}>")
            url = name in ("href", "src", "action", "formaction", "srcset")
            if url and self.marker in text and text.strip().lower().startswith(self.SCHEMES):
                self.found.append(f"<{tag} {name}={text!r}>")
            if tag in self.DANGEROUS and self.marker in text:
                self.found.append(f"<{tag} {name}={text!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._inside:
            while self._inside and self._inside.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self.marker in data and any(tag in ("script", "style") for tag in self._inside):
            self.found.append(f"<{self._inside[-1]}>{data[:60]}")


def live_markup(page: str, marker: str) -> list[str]:
    parser = LiveMarkup(marker)
    parser.feed(page)
    parser.close()
    return parser.found


def outbox_files(outbox: Path) -> list[Path]:
    return sorted(outbox.glob("*.eml"))
