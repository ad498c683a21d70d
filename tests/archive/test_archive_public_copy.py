"""The public copy of a sent edition is rendered for the "public" audience from the email's own
templates: nothing personal in it, everything a reader needs, whatever the templates say later."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.published import stored_public_copy
from digest.editions.compose import public_copy
from digest.models import Edition
from digest.runtime import Runtime
from digest.web import create_app
from tests.archive.helpers import at, personal_leaks, publish, sent_personal_links
from tests.factories import make_subscribers

ITEMS = [
    ("Hydrogen valleys network grows", "news"),
    ("Matchmaking days in Lyon", "event"),
    ("Open call for textile SMEs", "call"),
]
PERSONAL = re.compile(r"XDIGESTX|/unsubscribe/|/preferences/|/confirm/", re.I)


def _sent(runtime: Runtime, session: Session) -> Edition:
    with runtime.sessions() as writing, writing.begin():
        make_subscribers(writing, 2)
    slug = publish(runtime, ITEMS, when=at(2026, 11, 5), title="November news")
    edition = session.scalar(select(Edition).where(Edition.slug == slug))
    assert edition is not None and edition.status == "sent"
    return edition


def test_the_public_html_and_text_of_a_sent_edition_carry_nothing_personal_and_every_link(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        edition = _sent(runtime, session)
        _check_public_copy(runtime, edition)


def _check_public_copy(runtime: Runtime, edition: Edition) -> None:
    assert sent_personal_links(runtime.config.outbox_dir)  # the subscribers' emails did carry their links
    stored = stored_public_copy(edition)
    rendered = public_copy(runtime.config, edition, date(2026, 11, 5))
    archive_link = f"http://digest.test/archive/{edition.slug}"
    for document in (stored, rendered.html, rendered.text):
        assert document is not None
        assert not PERSONAL.findall(document) and personal_leaks(document) == []
        assert "Manage preferences" not in document and "Unsubscribe" not in document
        assert "Dear reader," in document and "http://digest.test/subscribe" in document
        assert archive_link in document  # "View in browser"
        for entry in edition.entries:
            assert entry.item.url in document and entry.item.title in document
    assert rendered.html == stored  # what was frozen is what the same templates render for the public


def test_an_edition_frozen_before_public_copies_is_rendered_for_the_public_on_demand(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        edition = _sent(runtime, session)
        slug, html, titles = edition.slug, edition.html, [entry.item.title for entry in edition.entries]
    client = create_app(runtime).test_client()
    for legacy in (None, html):  # nothing stored, or (a trimmed email's) subscriber HTML
        with runtime.sessions() as session, session.begin():
            row = session.scalar(select(Edition).where(Edition.slug == slug))
            assert row is not None
            row.archive_html = legacy
        page = client.get(f"/archive/{slug}").get_data(as_text=True)
        assert personal_leaks(page) == [] and "Dear reader," in page and "Subscribe" in page
        assert all(title in page for title in titles)
