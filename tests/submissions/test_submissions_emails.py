"""The submitter's emails, received by a real SMTP server (aiosmtpd): the confirmation with the status
link, then one when an editor approves (the command line) or rejects with a note (the editors' queue),
and one when an edition carries the item — each once, duplicates' senders included, and one the
server could not take is sent at the next pass."""

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
    site.app.extensions["digest.mailer"].flush()
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


def test_a_duplicates_sender_is_told_it_joined_the_known_item(site: Site, smtp) -> None:
    handler, _port = smtp
    site.api(valid("news"))
    site.api(valid("news", contact_email="colleague@cluster.example.eu"))

    [mail] = received(site, handler, "colleague@cluster.example.eu")

    assert "It matches an item they already have" in flat(mail.get_content())


def test_approval_rejection_with_a_note_and_publication_are_each_told_once(site: Site, smtp) -> None:
    handler, _port = smtp
    config = site.runtime.config.path
    first = site.api(valid("news")).get_json()
    site.api(valid("news", contact_email="colleague@cluster.example.eu"))  # the same story: a duplicate
    other = site.api(valid("call", contact_email="calls@cluster.example.eu")).get_json()

    digest("queue", "approve", str(first["item_id"]), config=config)  # the command line
    add_accounts(site.runtime)
    editor = desk(site.app, EDITOR)
    editor.follow("/editor/items/decide", {"decision": "reject", "ids": str(other["item_id"]),
                                           "note": "Closed calls are out of scope; send us open ones."})  # fmt: skip
    edition = digest_json("edition", "create", "--type", "newsletter", config=config)
    digest("edition", "send", str(edition["id"]), config=config)

    subjects = [m["Subject"] for m in received(site, handler)]
    assert subjects == [
        "We received your submission: Cluster news worth telling",
        "Approved: Cluster news worth telling",
        "Published: Cluster news worth telling",
    ]
    assert [m["Subject"].split(":")[0] for m in received(site, handler, "colleague@cluster.example.eu")] == [
        "We received your submission", "Approved", "Published",
    ]  # fmt: skip
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
                    "calls@cluster.example.eu": "rejected"}  # fmt: skip
    runtime = site.runtime
    assert tell_submitters(runtime.config, runtime.sessions, runtime.secret_key) == 0  # nothing is told twice
    assert len(received(site, handler)) == 3


def test_a_status_email_the_server_could_not_take_goes_with_the_next_pass(site: Site, smtp) -> None:
    handler, _port = smtp
    config = site.runtime.config.path
    item_id = site.api(valid("news")).get_json()["item_id"]
    received(site, handler)  # the confirmation is out
    handler.scripted[SUBMITTER] = ["451 4.3.0 mailbox busy, try later"]

    digest("queue", "approve", str(item_id), config=config)

    assert [m["Subject"] for m in received(site, handler)] == [
        "We received your submission: Cluster news worth telling"
    ]
    with site.runtime.sessions() as session:
        assert session.scalar(select(Submission.notified_status)) == "pending"  # handed back, not lost
    runtime = site.runtime
    assert tell_submitters(runtime.config, runtime.sessions, runtime.secret_key) == 1
    assert received(site, handler)[-1]["Subject"] == "Approved: Cluster news worth telling"


def test_an_address_that_refuses_mail_is_not_tried_for_ever(site: Site, smtp) -> None:
    handler, _port = smtp
    item_id = site.api(valid("news")).get_json()["item_id"]
    received(site, handler)
    handler.scripted[SUBMITTER] = ["550 5.1.1 no such mailbox"]

    digest("queue", "approve", str(item_id), config=site.runtime.config.path)

    runtime = site.runtime
    assert tell_submitters(runtime.config, runtime.sessions, runtime.secret_key) == 0
    with runtime.sessions() as session:
        assert session.scalar(select(Submission.notified_status)) == "approved"
