"""Forget means forget: after `forget` (the person's own link, the editors' app, the command line) the address
and the name are in no table and no outbox file."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.delivery.message import site_links
from digest.delivery.sending import send_test
from digest.editions.lifecycle import create_edition
from digest.models import Base, Delivery, Edition
from digest.runtime import Runtime
from digest.subscribers.roster import add_subscriber, find_subscriber
from tests.cli import digest
from tests.conftest import TEST_SECRET
from tests.editor_helpers import ADMIN, csrf_token, desk
from tests.factories import make_item, make_subscribers
from tests.submissions.helpers import valid

ADDRESS = "ada.kingsworth@example.org"
TYPED = "Ada.Kingsworth@Example.ORG"  # how she typed it on the submission form
NAME = "Augusta Kingsworth"
OTHER = "reader0@example.org"


def traces(runtime: Runtime, *words: str) -> list[str]:
    """Every table row and outbox file that mentions one of the words, case-insensitively."""
    found = []
    with runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                text = str(tuple(row)).lower()
                found += [f"{table.name}: {row}" for word in words if word.lower() in text]
    for path in sorted(runtime.config.outbox_dir.iterdir()):
        text = (path.name + path.read_bytes().decode("utf-8", "replace")).lower()
        found += [f"outbox {path.name}" for word in words if word.lower() in text]
    return found


def leave_traces(runtime: Runtime, app: Flask) -> int:
    """A subscriber with a test send, a failed delivery quoting her, a submission, outbox files."""
    with runtime.sessions() as session, session.begin():
        subscriber_id = add_subscriber(session, SYSTEM, ADDRESS, NAME, confirmed=True).id
        make_subscribers(session, 1)
        make_item(session, "An approved call", kind="call", status="approved")
        edition_id = create_edition(session, runtime.config, SYSTEM, "digest").require().id
    send_test(runtime, SYSTEM, edition_id, ADDRESS)
    with runtime.sessions() as session, session.begin():
        start_sending(session, runtime.config, edition_id)
        error = f"550 5.1.1 <{TYPED}>: {NAME.upper()} no such mailbox"
        session.execute(
            update(Delivery).where(Delivery.subscriber_id == subscriber_id).values(status="failed", last_error=error)
        )
        session.execute(update(Edition).where(Edition.id == edition_id).values(last_error=f"the last: {error}"))
    answer = app.test_client().post("/api/submissions", json=valid(contact_email=TYPED, contact_name=NAME))
    assert answer.status_code == 201
    app.extensions["digest.mailer"].flush()
    outbox = runtime.config.outbox_dir
    (outbox / f"{ADDRESS}-{'0' * 16}.eml").write_text(f"To: {NAME} <{ADDRESS}>\n\nhello\n")
    (outbox / f"{OTHER}-{'1' * 16}.eml").write_text(f"To: <{OTHER}>\n\nhello\n")
    return subscriber_id


def forget_by_link(runtime: Runtime, app: Flask, subscriber_id: int) -> None:
    with runtime.sessions() as session:
        uid = find_subscriber(session, ADDRESS).uid
    path = site_links("http://digest.test", TEST_SECRET).preferences_url(uid).removeprefix("http://digest.test")
    client = app.test_client()
    token = csrf_token(client.get(path).get_data(as_text=True))
    done = client.post(path, data={"action": "forget", "confirm": "y", "csrf_token": token})
    assert done.status_code == 200


def forget_by_editor(runtime: Runtime, app: Flask, subscriber_id: int) -> None:
    assert desk(app, ADMIN).post(f"/editor/subscribers/{subscriber_id}/forget").status_code == 303


def forget_by_command(runtime: Runtime, app: Flask, subscriber_id: int) -> None:
    digest("subscribers", "forget", ADDRESS, config=runtime.config.path)


@pytest.mark.parametrize("forget", [forget_by_link, forget_by_editor, forget_by_command])
def test_after_forget_the_address_and_name_are_nowhere(runtime: Runtime, app: Flask, forget) -> None:
    subscriber_id = leave_traces(runtime, app)
    before = traces(runtime, ADDRESS, NAME)
    assert {place.split(":")[0].split(" ")[0] for place in before} >= {
        "subscribers", "deliveries", "editions", "audit_log", "submissions", "outbox",
    }  # fmt: skip

    forget(runtime, app, subscriber_id)

    assert traces(runtime, ADDRESS, NAME) == []
    assert [path.name for path in Path(runtime.config.outbox_dir).glob(f"{OTHER}-*")]  # others' mail stays
    with runtime.sessions() as session:
        [failed] = session.scalars(select(Delivery).where(Delivery.subscriber_id == subscriber_id))
        assert failed.last_error == "550 5.1.1 <[forgotten]>: [forgotten] no such mailbox"
