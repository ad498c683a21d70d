"""Generated texts stay true: the preheader made from the items follows every change (removing,
adding, re-assembling, what sending leaves out) until an editor writes one; the page says which."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.editions.lifecycle import create_edition
from digest.models import Edition, utcnow
from digest.runtime import Runtime
from tests.editor_helpers import ADMIN, Desk, desk, make_app
from tests.factories import make_item


def _edition_id(response: Any) -> int:
    assert response.status_code == 303, response.status_code
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _preheader(runtime: Runtime, edition_id: int) -> tuple[str, bool]:
    with runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        return edition.preheader, edition.preheader_by_hand


def _texts(admin: Desk, edition_id: int, preheader: str) -> None:
    form = {"title": "Autumn", "subject": "Autumn news", "preheader": preheader, "intro": ""}
    assert admin.post(f"/editor/editions/{edition_id}/texts", form).status_code == 303


def _items(session: Session, *titles: str, kind: str = "news") -> list[int]:
    return [make_item(session, title, kind=kind, status="approved").id for title in titles]


def test_the_generated_preheader_follows_the_items_until_an_editor_writes_one(runtime: Runtime) -> None:
    admin = desk(make_app(runtime), ADMIN)
    with runtime.sessions() as session, session.begin():
        news = _items(session, "Hydrogen valley opens", "Textile cluster grows")
        [call] = _items(session, "Call for pilots", kind="call")
    edition_id = _edition_id(admin.post("/editor/editions", {"type": "newsletter", "title": "Autumn", "ids": news}))
    assert _preheader(runtime, edition_id) == ("In this issue: 2 news items", False)
    assert "Generated from the items" in admin.get(f"/editor/editions/{edition_id}").get_data(as_text=True)

    admin.post(f"/editor/editions/{edition_id}/items/{news[1]}/remove")
    assert _preheader(runtime, edition_id) == ("In this issue: 1 news item", False)  # before: still "2 news items"
    admin.post(f"/editor/editions/{edition_id}/items", {"ids": [call], "section": "Open calls"})
    assert _preheader(runtime, edition_id) == ("In this issue: 1 news item, 1 open call", False)

    _texts(admin, edition_id, "Hydrogen, and a call for pilots")
    admin.post(f"/editor/editions/{edition_id}/items/{call}/remove")
    assert _preheader(runtime, edition_id) == ("Hydrogen, and a call for pilots", True)
    assert "Written by hand" in admin.get(f"/editor/editions/{edition_id}").get_data(as_text=True)

    _texts(admin, edition_id, "")  # emptied: generated again
    assert _preheader(runtime, edition_id) == ("In this issue: 1 news item", False)


def test_what_sending_leaves_out_is_not_counted_in_the_sent_preheader(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        shared, own = _items(session, "Hydrogen valley opens", "Textile cluster grows")
        ours = create_edition(session, runtime.config, SYSTEM, "newsletter", sections=[("News", [shared, own])])
        theirs = create_edition(session, runtime.config, SYSTEM, "newsletter", sections=[("News", [shared])])
        ours_id, theirs_id = ours.require().id, theirs.require().id
    with runtime.sessions() as session, session.begin():
        start_sending(session, runtime.config, theirs_id)
    with runtime.sessions() as session, session.begin():
        start_sending(session, runtime.config, ours_id)
    with runtime.sessions() as session:
        sent = session.get(Edition, ours_id)
        assert sent.preheader == "In this issue: 1 news item"  # before: "2 news items", in the inbox and the archive
        assert "In this issue: 1 news item" in sent.html


def test_re_assembling_the_digest_updates_its_preheader(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        _items(session, "Hydrogen valley opens")
        digest_id = create_edition(session, runtime.config, SYSTEM, "digest").require().id
    assert _preheader(runtime, digest_id) == ("This week: 1 news item", False)
    with runtime.sessions() as session, session.begin():
        make_item(session, "Textile cluster grows", status="approved", approved_at=utcnow())  # approved since
        again = create_edition(session, runtime.config, SYSTEM, "digest").edition
        assert again is not None and again.id == digest_id
    assert _preheader(runtime, digest_id) == ("This week: 2 news items", False)
