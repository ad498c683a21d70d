"""Bounces and complaints read from a Maildir and an mbox by `digest bounces process`: an edition really
sent through aiosmtpd with VERP, then the reports Postfix, Gmail and Exim write about it, and a
feedback-loop complaint. Statuses, the delivery's record, the audit trail, idempotency and the bounds."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.audit import SYSTEM
from digest.bounces.processing import process_mailbox
from digest.delivery.verp import ReturnPath, delivery_of_token
from digest.models import DeliveryReport
from digest.runtime import Runtime
from tests.bounces import samples
from tests.bounces.helpers import (
    RETURN_PATH,
    audit_lines,
    bounce_runtime,
    delivery_id_of,
    feedback_of,
    maildir_with,
    send_edition,
    status_of,
)
from tests.cli import digest, digest_json
from tests.conftest import TEST_SECRET
from tests.smtpserver import Received, RecordingHandler


@pytest.fixture
def verp_runtime(write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int]) -> Iterator[Runtime]:
    runtime = bounce_runtime(write_config, smtp[1])
    yield runtime
    runtime.close()


def process(runtime: Runtime, *args: str) -> list[dict]:
    return digest_json("bounces", "process", *args, config=runtime.config.path)


def test_each_message_goes_out_from_a_verp_address_naming_its_delivery(verp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    edition_id, received = send_edition(verp_runtime, handler)
    for email, message in received.items():
        local, _, domain = message.sender.rpartition("@")
        assert domain == "lists.example.org" and local.startswith("bounces+")
        token = local.removeprefix("bounces+")
        assert delivery_of_token(TEST_SECRET, token) == delivery_id_of(verp_runtime, email, edition_id)
        assert email.split("@")[0] not in token and len(token) <= 24  # short, and nothing of the subscriber
        assert token == token.lower() and all(c.isalnum() or c == "-" for c in token)
    assert delivery_of_token(TEST_SECRET, "1-aaaaaaaaaa") is None  # a forged token names nothing
    assert delivery_of_token("another-site-secret-key-0123", local.removeprefix("bounces+")) is None


def test_without_verp_the_envelope_sender_is_the_return_path(
    write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int]
) -> None:
    runtime = bounce_runtime(write_config, smtp[1], verp=False)
    _, received = send_edition(runtime, smtp[0], readers=2)
    assert {message.sender for message in received.values()} == {RETURN_PATH}
    runtime.close()


def test_hard_bounces_from_postfix_gmail_and_exim_make_subscribers_bounced(
    verp_runtime: Runtime, smtp, tmp_path: Path
) -> None:
    edition_id, sent = send_edition(verp_runtime, smtp[0], readers=5)
    postfix, gmail, exim, exim_rfc, kept = sorted(sent)
    folder = maildir_with(
        tmp_path / "Maildir",
        samples.postfix_dsn(sent[postfix]),
        samples.gmail_dsn(sent[gmail]),
        samples.exim_classic(sent[exim]),
        samples.exim_dsn(sent[exim_rfc]),
    )
    outcomes = process(verp_runtime, "--maildir", str(folder))
    by_subscriber = {outcome["subscriber"]: outcome for outcome in outcomes}
    assert set(by_subscriber) == {postfix, gmail, exim, exim_rfc}
    for email in (postfix, gmail, exim, exim_rfc):
        assert by_subscriber[email]["kind"] == "hard"
        assert by_subscriber[email]["action"] == "bounced"
        assert by_subscriber[email]["delivery"] == delivery_id_of(verp_runtime, email, edition_id)
        assert status_of(verp_runtime, email) == "bounced"
        assert feedback_of(verp_runtime, email, edition_id) == "hard"
    assert by_subscriber[postfix]["status"] == by_subscriber[gmail]["status"] == "5.1.1"
    assert by_subscriber[exim_rfc]["status"] == "5.0.0"
    assert status_of(verp_runtime, kept) == "active"
    lines = audit_lines(verp_runtime)
    assert [line.action for line in lines] == ["bounce.hard"] * 4
    assert all(line.detail["subscriber_status"] == "active → bounced" for line in lines)
    assert {line.detail["edition"] for line in lines} == {edition_id}
    shown = digest_json("edition", "show", str(edition_id), config=verp_runtime.config.path)
    assert shown["counts"]["bounced"] == 4 and shown["counts"]["sent"] == 1 and shown["counts"]["complained"] == 0


def test_reports_without_a_verp_address_map_by_message_id_or_recipient(
    write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int], tmp_path: Path
) -> None:
    runtime = bounce_runtime(write_config, smtp[1], verp=False)
    edition_id, sent = send_edition(runtime, smtp[0], readers=3)
    by_id, by_recipient, _ = sorted(sent)
    report = samples.gmail_dsn(sent[by_id])  # quotes the whole original: its Message-ID
    stripped = samples.exim_classic(sent[by_recipient]).split(b"------ This is a copy")[0]  # only the address
    outcomes = process(runtime, "--maildir", str(maildir_with(tmp_path / "md", report, stripped)))
    assert {(o["subscriber"], o["delivery"]) for o in outcomes} == {
        (by_id, delivery_id_of(runtime, by_id, edition_id)),
        (by_recipient, delivery_id_of(runtime, by_recipient, edition_id)),
    }
    assert status_of(runtime, by_id) == status_of(runtime, by_recipient) == "bounced"
    runtime.close()


def test_soft_bounces_count_and_three_in_a_row_make_a_subscriber_bounced(
    verp_runtime: Runtime, smtp, tmp_path: Path
) -> None:
    handler, _ = smtp
    first, sent_first = send_edition(verp_runtime, handler, readers=2)
    steady, flaky = sorted(sent_first)
    second, sent_second = send_edition(verp_runtime, handler)
    third, sent_third = send_edition(verp_runtime, handler)
    folder = tmp_path / "Maildir"
    maildir_with(
        folder, samples.postfix_dsn(sent_first[flaky], "4.2.2"), samples.postfix_dsn(sent_first[steady], "4.4.1")
    )
    maildir_with(folder, samples.postfix_dsn(sent_second[flaky], "4.2.2"))
    outcomes = process(verp_runtime, "--maildir", str(folder))
    assert [o["action"] for o in outcomes] == ["counted"] * 3 and {o["kind"] for o in outcomes} == {"soft"}
    assert status_of(verp_runtime, flaky) == "active"  # two in a row: not yet
    maildir_with(folder, samples.postfix_dsn(sent_third[flaky], "4.2.2"))
    [third_report] = process(verp_runtime, "--maildir", str(folder))
    assert third_report == {
        "kind": "soft",
        "subscriber": flaky,
        "delivery": delivery_id_of(verp_runtime, flaky, third),
        "status": "4.2.2",
        "action": "bounced",
        "report": third_report["report"],
    }
    assert status_of(verp_runtime, flaky) == "bounced"
    assert status_of(verp_runtime, steady) == "active"  # one soft bounce, then two editions went through
    assert [feedback_of(verp_runtime, flaky, e) for e in (first, second, third)] == ["soft"] * 3
    assert audit_lines(verp_runtime)[-1].detail["subscriber_status"] == "active → bounced"


def test_a_complaint_makes_the_subscriber_complained_and_an_import_never_brings_them_back(
    verp_runtime: Runtime, smtp, tmp_path: Path
) -> None:
    edition_id, sent = send_edition(verp_runtime, smtp[0], readers=3)
    by_token, by_message_id, _ = sorted(sent)
    plain = samples.arf_complaint(sent[by_message_id])
    no_token = plain.replace(sent[by_message_id].sender.encode(), b"someone-else@lists.example.org")
    folder = maildir_with(tmp_path / "Maildir", samples.arf_complaint(sent[by_token]), no_token)
    outcomes = process(verp_runtime, "--maildir", str(folder))
    assert sorted((o["subscriber"], o["kind"], o["status"], o["action"]) for o in outcomes) == [
        (by_token, "complaint", "abuse", "complained"),
        (by_message_id, "complaint", "abuse", "complained"),
    ]
    assert status_of(verp_runtime, by_token) == "complained"
    assert feedback_of(verp_runtime, by_token, edition_id) == "complaint"
    shown = digest_json("edition", "show", str(edition_id), config=verp_runtime.config.path)
    assert shown["counts"]["complained"] == 2 and shown["counts"]["sent"] == 3
    csv_file = tmp_path / "again.csv"
    csv_file.write_text(f"email,status\n{by_token},active\n{by_message_id},active\n")
    digest("subscribers", "import", str(csv_file), config=verp_runtime.config.path)
    assert status_of(verp_runtime, by_token) == status_of(verp_runtime, by_message_id) == "complained"
    assert [line.action for line in audit_lines(verp_runtime)] == ["bounce.complaint"] * 2


def test_a_bounced_address_stays_bounced_through_an_import(verp_runtime: Runtime, smtp, tmp_path: Path) -> None:
    _, sent = send_edition(verp_runtime, smtp[0], readers=1)
    [email] = sent
    process(verp_runtime, "--maildir", str(maildir_with(tmp_path / "md", samples.postfix_dsn(sent[email]))))
    csv_file = tmp_path / "again.csv"
    csv_file.write_text(f"email,name,status\n{email},Back Again,active\n")
    digest("subscribers", "import", str(csv_file), config=verp_runtime.config.path)
    assert status_of(verp_runtime, email) == "bounced"


def test_processing_again_changes_nothing_and_marks_messages_seen(verp_runtime: Runtime, smtp, tmp_path: Path) -> None:
    _, sent = send_edition(verp_runtime, smtp[0], readers=2)
    first, second = sorted(sent)
    folder = maildir_with(tmp_path / "Maildir", samples.postfix_dsn(sent[first]))
    assert len(process(verp_runtime, "--maildir", str(folder))) == 1
    [name] = [path.name for path in (folder / "cur").iterdir()]
    assert name.endswith(":2,S") and not list((folder / "new").iterdir())
    assert process(verp_runtime, "--maildir", str(folder)) == []  # seen: not read again
    # The same report again (a crash between commit and marking, or delivered twice) is recorded once.
    maildir_with(folder, samples.postfix_dsn(sent[second]))
    raw = (folder / "cur" / name).read_bytes()
    maildir_with(folder, raw)
    outcomes = process(verp_runtime, "--maildir", str(folder))
    assert sorted(o["action"] for o in outcomes) == ["bounced", "duplicate"]
    assert [line.action for line in audit_lines(verp_runtime)] == ["bounce.hard"] * 2
    with verp_runtime.sessions() as session:
        assert len(session.scalars(select(DeliveryReport)).all()) == 2


def test_an_mbox_read_twice_records_each_report_once(verp_runtime: Runtime, smtp, tmp_path: Path) -> None:
    _, sent = send_edition(verp_runtime, smtp[0], readers=2)
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    for email in sent:
        box.add(samples.gmail_dsn(sent[email]))
    box.close()
    assert [o["action"] for o in process(verp_runtime, "--mbox", str(tmp_path / "bounces.mbox"))] == ["bounced"] * 2
    assert [o["action"] for o in process(verp_runtime, "--mbox", str(tmp_path / "bounces.mbox"))] == ["duplicate"] * 2
    assert len(audit_lines(verp_runtime)) == 2


def test_reports_not_understood_are_kept_and_listed(verp_runtime: Runtime, smtp, tmp_path: Path) -> None:
    _, sent = send_edition(verp_runtime, smtp[0], readers=1)
    [email] = sent
    someone_elses = Received(
        "other@lists.example.org", ["nobody-we-know@example.net"], b"Message-ID: <not-ours@example.net>\r\n\r\nhi\r\n"
    )
    stranger = samples.postfix_dsn(someone_elses)
    folder = maildir_with(tmp_path / "md", samples.plain_reply(sent[email].sender), stranger, b"\x00\xff garbage")
    outcomes = process(verp_runtime, "--maildir", str(folder))
    assert [o["action"] for o in outcomes] == ["kept"] * 3 and {o["kind"] for o in outcomes} == {"unknown"}
    assert status_of(verp_runtime, email) == "active"
    listed = digest_json("bounces", "list-unknown", "--raw", config=verp_runtime.config.path)
    assert len(listed) == 3
    reasons = " | ".join(row["reason"] for row in listed)
    assert "Out of office" in reasons and "matches no subscriber" in reasons
    assert any("Subject: Out of office" in (row["raw"] or "") for row in listed)  # the message, for a person
    table = digest("bounces", "list-unknown", config=verp_runtime.config.path).stdout
    assert "matches no subscriber" in table
    assert [line.action for line in audit_lines(verp_runtime)] == ["bounce.unknown"] * 3


def test_a_run_reads_at_most_its_bounds(write_config: Callable[..., Path], smtp, tmp_path: Path) -> None:
    runtime = bounce_runtime(write_config, smtp[1], max_messages_per_run=2, max_message_bytes=4096)
    _, sent = send_edition(runtime, smtp[0], readers=3)
    huge = samples.gmail_dsn(sent[sorted(sent)[0]])  # the whole original quoted: more than 4 KB
    assert len(huge) > 4096
    folder = maildir_with(tmp_path / "md", huge, *(samples.postfix_dsn(sent[email]) for email in sorted(sent)[1:]))
    run = process_mailbox(runtime, SYSTEM, maildir=folder)
    assert run.messages == 2
    run_two = process_mailbox(runtime, SYSTEM, maildir=folder)
    assert run.messages + run_two.messages == 3
    outcomes = run.outcomes + run_two.outcomes
    too_long = [o for o in outcomes if o.kind == "unknown"]
    assert len(too_long) == 1 and too_long[0].action == "kept"
    with runtime.sessions() as session:
        kept = session.get(DeliveryReport, too_long[0].report)
        assert "max_message_bytes" in kept.reason and len(kept.raw) <= 4096
    assert process_mailbox(runtime, SYSTEM, maildir=folder).messages == 0
    runtime.close()


def test_the_command_says_what_it_did_and_refuses_a_missing_mailbox(
    verp_runtime: Runtime, smtp, tmp_path: Path
) -> None:
    _, sent = send_edition(verp_runtime, smtp[0], readers=1)
    [email] = sent
    folder = maildir_with(tmp_path / "md", samples.postfix_dsn(sent[email]))
    result = digest("bounces", "process", "--maildir", str(folder), config=verp_runtime.config.path)
    assert "hard" in result.stdout and email in result.stdout and "1 message read, 1 bounced" in result.stdout
    missing = digest("bounces", "process", config=verp_runtime.config.path, check=False)
    assert missing.returncode == 1 and "set bounces.mailbox" in missing.stderr and "Traceback" not in missing.stderr
    not_maildir = digest("bounces", "process", "--maildir", str(tmp_path), config=verp_runtime.config.path, check=False)
    assert not_maildir.returncode == 1 and "not a Maildir" in not_maildir.stderr
    assert (
        json.loads(
            digest("bounces", "process", "--maildir", str(folder), "--json", config=verp_runtime.config.path).stdout
        )
        == []
    )


def test_the_return_path_decides_on_verp_addresses() -> None:
    path = ReturnPath("bounces@lists.example.org", True, TEST_SECRET)
    address = path.for_delivery(42)
    assert path.delivery_in(address) == 42 and path.delivery_in(address.upper()) == 42
    assert path.delivery_in(address.replace("lists.example.org", "evil.example")) is None
    assert path.for_delivery(None) == "bounces@lists.example.org"
    assert ReturnPath("bounces@lists.example.org", False, TEST_SECRET).for_delivery(42) == "bounces@lists.example.org"


def test_forgetting_a_subscriber_scrubs_their_address_from_kept_reports(
    verp_runtime: Runtime, smtp, tmp_path: Path
) -> None:
    _, sent = send_edition(verp_runtime, smtp[0], readers=1)
    [email] = sent
    reply = samples.plain_reply(sent[email].sender).replace(b"someone@example.net", email.encode())
    process(verp_runtime, "--maildir", str(maildir_with(tmp_path / "md", reply)))
    [kept] = digest_json("bounces", "list-unknown", "--raw", config=verp_runtime.config.path)
    assert email in kept["raw"]
    digest("subscribers", "forget", email, config=verp_runtime.config.path)
    [kept] = digest_json("bounces", "list-unknown", "--raw", config=verp_runtime.config.path)
    assert email not in kept["raw"] and "[forgotten]" in kept["raw"]
