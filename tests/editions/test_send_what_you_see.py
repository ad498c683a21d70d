"""Send what you see: an item another edition has sent since, or a call or event that has lapsed, is
flagged on the compose page and in the send confirmation as soon as it happens, and the confirmation's
count is what goes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lxml import html as lxml_html

from digest.delivery.ledger import start_sending
from digest.models import Edition, utcnow
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
    facts = dict(zip([dt.text_content() for dt in confirm.cssselect("dl.facts dt")],
                     [dd.text_content() for dd in confirm.cssselect("dl.facts dd")], strict=True))
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
