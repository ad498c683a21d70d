"""Reading reports is reading hostile input: control characters never get through, every loop is bounded,
and a broken message is a report kept as unknown, never an exception."""

from __future__ import annotations

from email.mime.multipart import MIMEMultipart

from digest.bounces.reports import MAX_FIELD, MAX_RECIPIENTS, parse
from tests.bounces import samples
from tests.smtpserver import Received

ORIGINAL = Received(
    "bounces+1-abcdefghij@lists.example.org",
    ["reader@example.org"],
    b"Message-ID: <edition-1.delivery-1@example.org>\r\nTo: reader@example.org\r\nSubject: hi\r\n\r\nhello\r\n",
)


def test_control_characters_and_long_diagnostics_are_cleaned() -> None:
    diagnostic = "smtp; 550 5.1.1 user\x1b[31m unknown\x00 " + "x" * 5000
    [report] = parse(samples.postfix_dsn(ORIGINAL, diagnostic=diagnostic))
    assert report.kind == "hard" and report.status == "5.1.1"
    assert "\x1b" not in report.reason and "\x00" not in report.reason and len(report.reason) <= MAX_FIELD
    assert report.recipient == "reader@example.org"
    assert report.message_id == "<edition-1.delivery-1@example.org>"
    assert "bounces+1-abcdefghij@lists.example.org" in report.addresses


def test_a_report_with_thousands_of_recipients_reads_only_the_first_ones() -> None:
    raw = samples.postfix_dsn(ORIGINAL)
    block = b"\r\n\r\nFinal-Recipient: rfc822; other@example.org\r\nAction: failed\r\nStatus: 5.1.1"
    raw = raw.replace(b"\r\nStatus: 5.1.1", b"\r\nStatus: 5.1.1" + block * 5000, 1)
    reports = parse(raw)
    assert len(reports) == MAX_RECIPIENTS


def test_success_notices_give_nothing_and_broken_reports_are_unknown() -> None:
    delivered = (
        samples.postfix_dsn(ORIGINAL)
        .replace(b"Action: failed", b"Action: delivered")
        .replace(b"Status: 5.1.1", b"Status: 2.0.0")
    )
    assert parse(delivered) == []
    empty_report = MIMEMultipart("report", report_type="delivery-status").as_bytes()
    assert [r.kind for r in parse(empty_report)] == ["unknown"]
    assert [r.kind for r in parse(b"\xff\xfe\x00garbage")] == ["unknown"]
    assert [r.kind for r in parse(b"")] == ["unknown"]
    not_a_complaint = samples.arf_complaint(ORIGINAL).replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")
    [report] = parse(not_a_complaint)
    assert report.kind == "unknown" and "not-spam" in report.reason


def test_a_delayed_notice_is_a_soft_bounce() -> None:
    [report] = parse(samples.postfix_dsn(ORIGINAL, status="4.4.1"))
    assert (report.kind, report.status, report.action) == ("soft", "4.4.1", "delayed")
