"""Helpers for the editors' app tests: accounts, a logged-in test client, the CSRF token of a page,
and a few items of every kind and origin."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from werkzeug.security import generate_password_hash

from digest.models import AuditEntry, Editor, Item, Source, Submission
from digest.runtime import Runtime
from digest.web import create_app
from tests.factories import make_item

PASSWORD = "correct horse battery"
ADMIN = "admin@example.org"
EDITOR = "editor@example.org"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@functools.cache
def password_hash() -> str:
    """PASSWORD's scrypt hash, made once: hashing takes a fifth of a second, on purpose."""
    return generate_password_hash(PASSWORD, method="scrypt")


def add_accounts(runtime: Runtime) -> None:
    """An admin and an editor, both with PASSWORD (what `add_editor` stores, without hashing it again)."""
    with runtime.sessions() as session, session.begin():
        session.add_all(
            [
                Editor(email=ADMIN, password_hash=password_hash(), role="admin"),
                Editor(email=EDITOR, password_hash=password_hash(), role="editor"),
            ]
        )


def csrf_token(page: str) -> str:
    match = CSRF.search(page)
    assert match, "the page carries a CSRF token"
    return match.group(1)


@dataclass
class Desk:
    """A test client logged in as one account, posting forms with the page's CSRF token."""

    client: FlaskClient
    email: str
    token: str = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def page(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if not self.token:  # one per session: Flask-WTF keeps it in the session
            self.token = csrf_token(self.client.get("/editor/editions").get_data(as_text=True))
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)

    def follow(self, path: str, data: dict[str, Any] | None = None) -> str:
        """Post, follow the redirect, return the page (with its flashed message)."""
        response = self.post(path, data, follow_redirects=True)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)


def log_in(client: FlaskClient, email: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    token = csrf_token(client.get("/editor/login").get_data(as_text=True))
    return client.post("/editor/login", data={"email": email, "password": password, "csrf_token": token}, **kwargs)


def desk(app: Flask, email: str) -> Desk:
    client = app.test_client()
    assert log_in(client, email).status_code == 302
    return Desk(client, email)


def make_app(runtime: Runtime) -> Flask:
    add_accounts(runtime)
    return create_app(runtime)


def trail(runtime: Runtime, target_type: str, target_id: int | None = None) -> list[AuditEntry]:
    with runtime.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.target_type == target_type).order_by(AuditEntry.id)
        if target_id is not None:
            query = query.where(AuditEntry.target_id == target_id)
        return list(session.scalars(query))


def item_row(runtime: Runtime, item_id: int) -> Item:
    with runtime.sessions() as session:
        return session.get(Item, item_id)


def varied_items(runtime: Runtime) -> dict[str, int]:
    """A pending queue of every kind and origin: two feeds, one submission, calls closing soon and later."""
    now = datetime.now(UTC)
    with runtime.sessions() as session, session.begin():
        news_feed = Source(name="ECCP News", url="https://feeds.example.eu/news.rss", kind="news")
        events_feed = Source(name="Cluster Events", url="https://feeds.example.eu/events.ics", kind="event")
        session.add_all([news_feed, events_feed])
        session.flush()
        made = {
            "old_news": make_item(
                session, "Hydrogen valley opens", status="pending", source_id=news_feed.id,
                published_at=now - timedelta(days=5), country="Spain",
            ),
            "new_news": make_item(
                session, "Textile cluster grows", status="pending", source_id=news_feed.id,
                published_at=now - timedelta(days=1), country="Portugal", organisation="Textile Portugal",
            ),
            "late_event": make_item(
                session, "Matchmaking days in Lyon", kind="event", status="pending", source_id=events_feed.id,
                starts_at=now + timedelta(days=40), ends_at=now + timedelta(days=41),
            ),
            "early_event": make_item(
                session, "Battery forum in Graz", kind="event", status="pending", source_id=events_feed.id,
                starts_at=now + timedelta(days=8), ends_at=now + timedelta(days=8, hours=6),
            ),
            "soon_call": make_item(
                session, "Call for digital SMEs", kind="call", status="pending", source_id=news_feed.id,
                deadline=now + timedelta(days=5),
            ),
            "later_call": make_item(
                session, "Call for mobility pilots", kind="call", status="pending", source_id=news_feed.id,
                deadline=now + timedelta(days=50),
            ),
            "submitted": make_item(
                session, "Agrifood cluster wins award", kind="achievement", status="pending", origin="submission",
                country="Greece",
            ),
        }  # fmt: skip
        session.add(
            Submission(
                organisation="Agrifood Hellas",
                contact_name="Eleni Papadopoulou",
                contact_email="eleni@agrifood.example.gr",
                kind="achievement",
                payload={},
                item_id=made["submitted"].id,
            )
        )
        return {name: item.id for name, item in made.items()}


@contextmanager
def counted_queries(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
