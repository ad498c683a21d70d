"""Mail header injection (issue 13, item 1): a title, subject or name carrying CR/LF never starts a
header of its own. Titles and subjects refuse line breaks where they are typed (the web app, the
command line); whatever reaches the mail anyway (older rows, the config, a feed, a submission) is put
on one line by the one place headers are made, digest.delivery.headers."""

from __future__ import annotations

import email
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default as DEFAULT_POLICY
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from digest.audit import SYSTEM
from digest.config import load_config
from digest.delivery.headers import address_header, header, header_value, header_values, token_header
from digest.delivery.ledger import start_sending
from digest.delivery.notices import Notice, compose, send_notice
from digest.delivery.outbox import OutboxTransport
from digest.editions.core import EditionError, one_line
from digest.editions.lifecycle import create_edition
from digest.models import Edition
from digest.runtime import Runtime
from tests.cli import digest
from tests.delivery_helpers import drain
from tests.editor_helpers import EDITOR, desk
from tests.factories import make_item, make_subscribers

ATTACK = "Editor title\r\nBcc: someone@evil.example\r\nContent-Type: text/plain\r\n\r\nPHISHING BODY"
# Every C0 and C1 control character, DEL, and the Unicode line and paragraph separators.
CONTROLS = [chr(code) for code in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]]


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=DEFAULT_POLICY)
    assert isinstance(message, EmailMessage)
    return message


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def assert_not_injected(raw: bytes, body_says: str, content_type: str = "text/plain") -> None:
    message = parsed(raw)
    assert message.get_content_type() == content_type
    assert len(message.get_all("Subject") or []) == 1
    assert message.get_all("Bcc") is None and b"\nBcc:" not in header_block(raw)
    body = message.get_body(("plain",)).get_content()
    assert body_says in body and not body.lstrip().startswith("PHISHING BODY")
    assert message["Subject"].strip() == "Editor title Bcc: someone@evil.example Content-Type: text/plain PHISHING BODY"


# --------------------------------------------------------------------------- the choke point


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_no_control_character_reaches_a_header(control: str) -> None:
    value = f"Title{control}Bcc: someone@evil.example{control}{control}body"
    assert header_value(value) == "Title Bcc: someone@evil.example body"
    made = [
        header("Subject", value),
        header("Subject", value * 8),  # long enough to be folded
        header("Subject", "Caf\u00e9 " + value),  # RFC 2047 encoded words
        token_header("List-Unsubscribe", f"<http://digest.test/u/{value}>"),
        address_header("To", value, f"reader{control}@example.org"),
        address_header("To", "Ren\u00e9e " + value, "reader@example.org"),
    ]
    for line in made:
        assert line.endswith(b"\r\n")
        unfolded = line[:-2].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
        assert b"\r" not in unfolded and b"\n" not in unfolded, line
        assert all(32 <= byte < 127 for byte in unfolded), line
        assert len(parsed(line + b"\r\nbody\r\n").keys()) == 1
    assert all(control not in value for value in header_values({"Subject": value, "To": value}).values())
    with pytest.raises(ValueError):
        header("Subject\r\nBcc", "x")


def test_a_notice_keeps_one_subject_and_its_own_body() -> None:
    raw = compose(Notice(to="reader@example.org", subject=ATTACK, text="The real notice."), "Digest <d@digest.test>")
    assert_not_injected(raw, "The real notice.")


def test_scheduler_and_submission_notices_go_through_the_choke_point(tmp_path: Path, runtime: Runtime) -> None:
    outbox = OutboxTransport(tmp_path / "outbox")
    send_notice(outbox, runtime.config, Notice(to="editor@example.org", subject=ATTACK, text="Ready."), None)
    [eml] = (tmp_path / "outbox").rglob("*.eml")
    assert_not_injected(eml.read_bytes(), "Ready.")


# --------------------------------------------------------------------------- input refuses line breaks


@pytest.mark.parametrize("name", ["title", "subject", "preheader"])
def test_titles_and_subjects_refuse_line_breaks(name: str) -> None:
    for breaker in ("\r\n", "\n", "\r", "\v", "\f", "\x85", "\u2028"):
        with pytest.raises(EditionError, match=f"the {name} must be a single line"):
            one_line(name, f"Editor title{breaker}Bcc: x@evil.example")
    with pytest.raises(EditionError, match=r"control character \(U\+0000\)"):
        one_line(name, "Editor\x00title")
    assert one_line(name, "  Editor\ttitle  ") == "Editor title"


def edition_count(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Edition)) or 0


def test_the_attack_through_the_web_app(app: Flask, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_id = make_item(session, "Hydrogen valley opens").id
    editor = desk(app, EDITOR)  # a plain editor, not an admin
    page = editor.follow("/editor/editions", {"type": "newsletter", "title": ATTACK, "ids": [item_id]})
    assert "the title must be a single line: remove its line breaks" in page
    assert edition_count(runtime) == 0
    made = editor.post("/editor/editions", {"type": "newsletter", "title": "Autumn", "ids": [item_id]})
    edition_id = int(made.headers["Location"].rsplit("/", 1)[1])
    for name in ("title", "subject", "preheader"):
        texts = {"title": "Autumn", "subject": "Autumn", "preheader": "", "intro": ""} | {name: ATTACK}
        page = editor.follow(f"/editor/editions/{edition_id}/texts", texts)
        assert f"the {name} must be a single line: remove its line breaks" in page
    with runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        assert (edition.title, edition.subject) == ("Autumn", "Autumn")


def test_the_attack_through_the_command_line(write_config: Callable[..., Path]) -> None:
    config = write_config()
    digest("init", config=config)
    runtime = Runtime(load_config(config, environ={}))
    with runtime.sessions() as session, session.begin():
        make_item(session, "Hydrogen valley opens")
    for edition_type in ("newsletter", "digest"):
        refused = digest("edition", "create", "--type", edition_type, "--title", ATTACK, config=config, check=False)
        assert refused.returncode == 1
        assert refused.stderr == "digest: error: the title must be a single line: remove its line breaks\n"
    refused = digest(
        "edition", "create", "--type", "newsletter", "--subject", ATTACK, config=config, check=False
    )  # fmt: skip
    assert (
        refused.returncode == 1
        and refused.stderr.count("\n") == 1
        and "subject must be a single line" in refused.stderr
    )
    assert edition_count(runtime) == 0
    runtime.close()


# --------------------------------------------------------------------------- what is sent anyway


def test_a_stored_title_with_line_breaks_sends_one_subject_and_the_real_body(runtime: Runtime) -> None:
    """A row written before titles refused line breaks (or by any other path) still cannot inject."""
    with runtime.sessions() as session, session.begin():
        make_item(session, "Hydrogen valley opens")
        make_subscribers(session, 2)
        edition = create_edition(session, runtime.config, SYSTEM, "newsletter", title="Autumn").require()
        edition.title = edition.subject = ATTACK
        session.flush()
        start_sending(session, runtime.config, edition.id)
    drain(runtime)
    sent = sorted(runtime.config.outbox_dir.rglob("*.eml"))
    assert len(sent) == 2
    for eml in sent:
        raw = eml.read_bytes()
        assert_not_injected(raw, "Hydrogen valley opens", "multipart/alternative")
        assert parsed(raw)["To"].addresses[0].addr_spec.startswith("reader")
