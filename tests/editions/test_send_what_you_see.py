"""Send what you see: an item another edition has sent since, or a call or event that has lapsed, is
flagged on the compose page and in the send confirmation as soon as it happens, and the confirmation's
count is what goes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lxml import html as lxml_html

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.editions.compose import freeze
from digest.editions.core import get_edition, left_out_at_send
from digest.editions.lifecycle import create_edition
from digest.models import Edition, Item, utcnow
from digest.runtime import Runtime
from tests.editor_helpers import ADMIN, desk, make_app
from tests.factories import make_item, make_subscribers


def _edition_id(response: Any) -> int:
    assert response.status_code == 303, response.status_code
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _flags(page: str) -> dict[str, str]:
    tree = lxml_html.fromstring(page)
    return {
        entry.cssselect(".what > a")[0].text_content(): " ".join(entry.cssselect(".left-out")[0].text_content().split())
        for entry in tree.cssselect("li.entry")
        if entry.cssselect(".left-out")
    }


def test_an_item_sent_by_another_edition_is_flagged_before_the_send_not_after(runtime: Runtime) -> None:
    app = make_app(runtime)
    admin = desk(app, ADMIN)
    with runtime.sessions() as session, session.begin():
        shared = make_item(session, "Hydrogen valley opens", status="approved").id
        own = make_item(session, "Textile cluster grows", status="approved").id
        make_subscribers(session, 2)
    ours = _edition_id(admin.post("/editor/editions", {"type": "newsletter", "title": "Ours", "ids": [shared, own]}))
    theirs = _edition_id(admin.post("/editor/editions", {"type": "newsletter", "title": "Theirs", "ids": [shared]}))

    assert _flags(admin.get(f"/editor/editions/{ours}").get_data(as_text=True)) == {}
    assert admin.get(f"/editor/editions/{ours}/progress.json").get_json()["left_out"] == 0

    with runtime.sessions() as session, session.begin():
        start_sending(session, runtime.config, theirs)  # another editor sends theirs meanwhile

    page = admin.get(f"/editor/editions/{ours}").get_data(as_text=True)
    flags = _flags(page)
    assert flags == {"Hydrogen valley opens": "left out sent by “Theirs”"}
    assert "1 item will not go out with this edition" in page
    assert admin.get(f"/editor/editions/{ours}/progress.json").get_json()["left_out"] == 1  # the open page reloads

    confirm = lxml_html.fromstring(admin.get(f"/editor/editions/{ours}/send").get_data(as_text=True))
    facts = dict(
        zip(
            [dt.text_content() for dt in confirm.cssselect("dl.facts dt")],
            [dd.text_content() for dd in confirm.cssselect("dl.facts dd")],
            strict=True,
        )
    )
    assert facts["Items"].startswith("1 (of 2: 1 will be left out")
    assert [li.text_content() for li in confirm.cssselect("#left-out li")] == [
        "“Hydrogen valley opens”: sent by “Theirs”"
    ]

    assert "Sending to 2 subscribers" in admin.follow(f"/editor/editions/{ours}/send", {"confirm": "yes"})
    with runtime.sessions() as session:
        sent = session.get(Edition, ours)
        assert [entry.item_id for entry in sent.entries] == [own]


def test_a_lapsed_call_is_flagged_with_why(runtime: Runtime) -> None:
    app = make_app(runtime)
    admin = desk(app, ADMIN)
    with runtime.sessions() as session, session.begin():
        closed = make_item(session, "Call for pilots", kind="call", status="approved",
                           deadline=utcnow() - timedelta(hours=1)).id  # fmt: skip
    ours = _edition_id(admin.post("/editor/editions", {"type": "newsletter", "title": "Ours", "ids": [closed]}))
    assert _flags(admin.get(f"/editor/editions/{ours}").get_data(as_text=True)) == {
        "Call for pilots": "left out its deadline has passed"  # the badge, then why
    }


def test_what_the_confirmation_leaves_out_is_what_the_sent_edition_leaves_out_and_why(runtime: Runtime) -> None:
    """One rule (core.left_out_at_send) for the confirmation and for freezing: a call both sent by another
    edition and lapsed since is left out as sent elsewhere in both, and keeps its published status."""
    now = utcnow()
    later = now + timedelta(days=3)
    with runtime.sessions() as session, session.begin():
        own = make_item(session, "Textile cluster grows", status="approved")
        lapsing = make_item(
            session, "Call for pilots", kind="call", status="approved", deadline=now + timedelta(days=1)
        )
        shared = make_item(session, "Call shared and closed", kind="call", status="approved",
                           deadline=now + timedelta(days=1))  # fmt: skip
        ids = own.id, lapsing.id, shared.id
        make_subscribers(session, 2)
        ours = create_edition(
            session, runtime.config, SYSTEM, "newsletter", title="Ours", sections=[("News", list(ids))]
        )
        theirs = create_edition(
            session, runtime.config, SYSTEM, "newsletter", title="Theirs", sections=[("News", [shared.id])]
        )
        ours_id, theirs_id = ours.require().id, theirs.require().id
    with runtime.sessions() as session, session.begin():
        start_sending(session, runtime.config, theirs_id, now=now)

    with runtime.sessions() as session:
        confirmed = left_out_at_send(session, get_edition(session, ours_id), later)  # what the confirmation lists
        said = {session.get(Item, item_id).title: found.reason for item_id, found in confirmed.items()}
    assert said == {"Call for pilots": "lapsed", "Call shared and closed": "sent elsewhere"}

    with runtime.sessions() as session, session.begin():
        start_sending(session, runtime.config, ours_id, now=later)
    with runtime.sessions() as session:
        sent = session.get(Edition, ours_id)
        assert [entry.item_id for entry in sent.entries] == [ids[0]]
        assert set(sent.warnings) >= {
            "Left out at send time, deadline passed or ended (marked expired): “Call for pilots”",
            "Left out at send time, another edition has sent it since: “Call shared and closed”",
        }
        assert session.get(Item, ids[2]).status == "published"  # what it went out as, in the other edition


def test_freezing_an_edition_already_going_out_leaves_none_of_its_own_items_out(runtime: Runtime) -> None:
    """A test copy of an edition being sent freezes it again (rolled back): its own items are not "sent by
    another edition", as the confirmation's rule says (it left them all out, and the test copy failed)."""
    with runtime.sessions() as session, session.begin():
        ids = [make_item(session, title, status="approved").id for title in ("Textile cluster grows", "Agri pilots")]
        make_subscribers(session, 2)
        edition_id = (
            create_edition(session, runtime.config, SYSTEM, "newsletter", title="Ours", sections=[("News", ids)])
            .require()
            .id
        )
        start_sending(session, runtime.config, edition_id)
    with runtime.sessions() as session:
        edition = get_edition(session, edition_id)
        assert edition.status == "sending"
        freeze(runtime.config, edition, utcnow(), public=False)
        assert [entry.item_id for entry in edition.entries] == ids
        session.rollback()
