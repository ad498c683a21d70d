"""The submitter's emails, received by a real SMTP server (aiosmtpd): the confirmation with the status
link, then one when the outcome is known — an edition carried the item, or an editor rejected it with a
note (the editors' queue) — each once, duplicates' senders included; an approval alone sends nothing;
one the server could not take is sent at the next pass."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.config import load_config
from digest.db import upgrade
from digest.models import Submission
from digest.runtime import Runtime
from digest.submissions.notices import tell_submitters
from tests.cli import digest, digest_json
from tests.editor_helpers import EDITOR, add_accounts, desk
from tests.factories import make_item
from tests.smtpserver import RecordingHandler
from tests.submissions.helpers import Site, parse_mail, running_site, status_link, valid

SUBMITTER = "ane@cluster.example.eu"


@pytest.fixture
def site(write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int]) -> Iterator[Site]:
    _handler, port = smtp
    path = write_config(mail={"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": port}})
    runtime = Runtime(load_config(path, environ={}))
    upgrade(runtime.engine)
    with running_site(runtime) as site:
        yield site
    runtime.close()


def received(site: Site, handler: RecordingHandler, address: str = SUBMITTER) -> list:
    site.tell_submitters()
    return [parse_mail(message.data) for message in handler.to(address)]


def flat(text: str) -> str:
    """The text with its line wrapping undone."""
    return " ".join(text.split())


def test_the_submitter_gets_a_confirmation_with_a_working_status_link(site: Site, smtp) -> None:
    handler, _port = smtp
    site.form(valid("event"))

    [mail] = received(site, handler)

    assert mail["Subject"] == "We received your submission: Cluster event worth telling"
    assert mail["To"] == SUBMITTER and mail["From"].addresses[0].addr_spec == "digest@digest.test"
    text = flat(mail.get_content())
    assert text.startswith("Dear Ane Etxeberria,") and "from Basque Hydrogen Cluster has reached the editors" in text
    page = site.client().get(status_link(mail))
    assert page.status_code == 200 and "Waiting for an editor" in page.get_data(as_text=True)


def test_the_request_only_stores_the_confirmation_and_the_worker_sends_it(site: Site, smtp) -> None:
    """The web request composes and sends no mail: its confirmation is due in the database, and the
    worker (`digest worker`) sends it once, after the commit."""
    handler, _port = smtp
    site.api(valid("news"))

    [submission] = site.submissions()
    assert submission.notified_status is None  # due, not sent
    assert handler.to(SUBMITTER) == []

    digest("worker", "--drain", config=site.runtime.config.path)
    digest("worker", "--drain", config=site.runtime.config.path)

    [mail] = [parse_mail(message.data) for message in handler.to(SUBMITTER)]
    assert mail["Subject"] == "We received your submission: Cluster news worth telling"
    [submission] = site.submissions()
    assert submission.notified_status == "pending"


def test_a_duplicates_sender_is_told_it_joined_the_known_item(site: Site, smtp) -> None:
    handler, _port = smtp
    site.api(valid("news"))
    site.api(valid("news", contact_email="colleague@cluster.example.eu"))

    [mail] = received(site, handler, "colleague@cluster.example.eu")

    assert "It matches an item they already have" in flat(mail.get_content())


def test_each_submission_gets_two_emails_received_and_its_outcome(site: Site, smtp) -> None:
    handler, _port = smtp
    config = site.runtime.config.path
    first = site.api(valid("news")).get_json()
    site.api(valid("news", contact_email="colleague@cluster.example.eu"))  # the same story: a duplicate
    event = site.api(valid("event", contact_email="events@cluster.example.eu")).get_json()
    other = site.api(valid("call", contact_email="calls@cluster.example.eu")).get_json()

    digest("queue", "approve", str(first["item_id"]), str(event["item_id"]), config=config)  # the command line
    add_accounts(site.runtime)
    editor = desk(site.app, EDITOR)
    page = editor.get(f"/editor/items/{other['item_id']}").get_data(as_text=True)
    assert "Note (why; emailed to the submitter as written)" in page
    editor.follow("/editor/items/decide", {"decision": "reject", "ids": str(other["item_id"]),
                                           "note": "Closed calls are out of scope; send us open ones."})  # fmt: skip
    edition = digest_json("edition", "create", "--type", "newsletter", config=config)
    digest("edition", "send", str(edition["id"]), config=config)

    subjects = {address: [m["Subject"].split(":")[0] for m in received(site, handler, address)]
                for address in (SUBMITTER, "colleague@cluster.example.eu", "events@cluster.example.eu",
                                "calls@cluster.example.eu")}  # fmt: skip
    assert subjects == {
        SUBMITTER: ["We received your submission", "Published"],
        "colleague@cluster.example.eu": ["We received your submission", "Published"],
        "events@cluster.example.eu": ["We received your submission", "Published"],
        "calls@cluster.example.eu": ["We received your submission", "Not accepted"],
    }  # four submissions, eight emails
    rejected = received(site, handler, "calls@cluster.example.eu")[-1]
    assert rejected["Subject"] == "Not accepted: Cluster call worth telling"
    assert "Their note:\n\n  Closed calls are out of scope; send us open ones." in rejected.get_content().replace(
        "\r", ""
    )
    published = received(site, handler)[-1].get_content()
    assert f"http://digest.test/archive/{edition['slug']}" in published
    with site.runtime.sessions() as session:
        told = {s.contact_email: s.notified_status for s in session.scalars(select(Submission))}
    assert told == {SUBMITTER: "published", "colleague@cluster.example.eu": "published",
                    "events@cluster.example.eu": "published", "calls@cluster.example.eu": "rejected"}  # fmt: skip
    runtime = site.runtime
    assert tell_submitters(runtime.config, runtime.sessions, runtime.secret_key) == 0  # nothing is told twice
    assert len(received(site, handler)) == 2


def test_a_collected_items_reject_note_is_labelled_for_the_team(site: Site) -> None:
    with site.runtime.sessions() as session, session.begin():
        item = make_item(session, "Collected story", status="pending")
    add_accounts(site.runtime)
    page = desk(site.app, EDITOR).get(f"/editor/items/{item.id}").get_data(as_text=True)
    assert "Note (why; the team sees it)" in page and "emailed to the submitter" not in page


def test_a_status_email_the_server_could_not_take_goes_with_the_next_pass(site: Site, smtp) -> None:
    handler, _port = smtp
    config = site.runtime.config.path
    item_id = site.api(valid("news")).get_json()["item_id"]
    received(site, handler)  # the confirmation is out
    handler.scripted[SUBMITTER] = ["451 4.3.0 mailbox busy, try later"]

    digest("queue", "reject", str(item_id), config=config)

    assert [parse_mail(m.data)["Subject"] for m in handler.to(SUBMITTER)] == [
        "We received your submission: Cluster news worth telling"
    ]
    with site.runtime.sessions() as session:
        assert session.scalar(select(Submission.notified_status)) == "pending"  # handed back, not lost
    runtime = site.runtime
    assert tell_submitters(runtime.config, runtime.sessions, runtime.secret_key) == 1
    assert received(site, handler)[-1]["Subject"] == "Not accepted: Cluster news worth telling"


def test_an_address_that_refuses_mail_is_not_tried_for_ever(site: Site, smtp) -> None:
    handler, _port = smtp
    item_id = site.api(valid("news")).get_json()["item_id"]
    received(site, handler)
    handler.scripted[SUBMITTER] = ["550 5.1.1 no such mailbox"]

    digest("queue", "reject", str(item_id), config=site.runtime.config.path)

    runtime = site.runtime
    assert tell_submitters(runtime.config, runtime.sessions, runtime.secret_key) == 0
    with runtime.sessions() as session:
        assert session.scalar(select(Submission.notified_status)) == "rejected"
