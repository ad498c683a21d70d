"""Bounce and complaint reports as real servers write them, built with the standard library's email package
around a message our worker really sent (as the test SMTP server received it).

- ``postfix_dsn``: Postfix's "Undelivered Mail Returned to Sender" (and "Delayed Mail" for 4.x.x),
  multipart/report with message/delivery-status and the original's headers (text/rfc822-headers).
- ``gmail_dsn``: Gmail's "Delivery Status Notification (Failure)" from mailer-daemon@googlemail.com, with
  X-Failed-Recipients, an HTML explanation, message/delivery-status and the whole original (message/rfc822).
- ``exim_classic``: Exim's plain-text "Mail delivery failed: returning message to sender" with
  X-Failed-Recipients and "------ This is a copy of the message, including all the headers. ------".
- ``exim_dsn``: Exim 4.9x's RFC 3464 form.
- ``arf_complaint``: a feedback-loop complaint (RFC 5965, as Yahoo's and Microsoft's loops send them), sent
  to the loop's own address, the recipient redacted: only Original-Mail-From (our VERP address) and the
  quoted Message-ID tie it to a delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid

from tests.smtpserver import Received


def _headers_of(original: bytes) -> str:
    return original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").replace("\r\n", "\n") + "\n"


def _block(**fields: str) -> Message:
    block = Message()
    for name, value in fields.items():
        block[name.replace("_", "-")] = value
    return block


def _status_part(per_message: Message, recipients: list[Message]) -> Message:
    part = MIMEBase("message", "delivery-status")
    part.set_payload([per_message, *recipients])
    return part


def _envelope(report: MIMEMultipart, sent: Received, sender: str, subject: str, to: str | None = None) -> bytes:
    report["Return-Path"] = "<>"
    report["Delivered-To"] = to or sent.sender
    report["From"] = sender
    report["To"] = to or sent.sender
    report["Subject"] = subject
    report["Date"] = format_datetime(datetime.now(UTC))
    report["Message-ID"] = make_msgid(domain="mx.example.net")
    report["Auto-Submitted"] = "auto-replied"
    return report.as_bytes(policy=policy.SMTP)


def postfix_dsn(sent: Received, status: str = "5.1.1", diagnostic: str | None = None) -> bytes:
    recipient = sent.recipients[0]
    delayed = status.startswith("4")
    report = MIMEMultipart("report", report_type="delivery-status")
    diagnostic = diagnostic or (
        f"smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown in virtual mailbox table"
        if not delayed
        else f"smtp; 452 {status} <{recipient}>: Mailbox full"
    )
    text = (
        "This is the mail system at host mx.example.net.\n\n"
        + (
            "####################################################################\n"
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
            "####################################################################\n\n"
            if delayed
            else "I'm sorry to have to inform you that your message could not\nbe delivered to one or more "
            "recipients. It's attached below.\n\n"
        )
        + f"<{recipient}>: host mail.example.org[192.0.2.25] said: {diagnostic[6:]} (in reply to RCPT TO command)\n"
    )
    report.attach(MIMEText(text, "plain", "us-ascii"))
    per_message = _block(
        Reporting_MTA="dns; mx.example.net",
        X_Postfix_Queue_ID="4QmZ2k1Jx9z9sWb",
        X_Postfix_Sender=f"rfc822; {sent.sender}",
        Arrival_Date="Tue,  1 Dec 2026 09:00:02 +0000 (UTC)",
    )
    fields = {
        "Final_Recipient": f"rfc822; {recipient}",
        "Original_Recipient": f"rfc822;{recipient}",
        "Action": "delayed" if delayed else "failed",
        "Status": status,
        "Remote_MTA": "dns; mail.example.org",
        "Diagnostic_Code": diagnostic,
    }
    if delayed:
        fields["Will_Retry_Until"] = "Tue,  6 Dec 2026 09:00:02 +0000 (UTC)"
    report.attach(_status_part(per_message, [_block(**fields)]))
    headers = MIMEText(_headers_of(sent.data), "rfc822-headers", "utf-8")
    report.attach(headers)
    subject = "Delayed Mail (still being retried)" if delayed else "Undelivered Mail Returned to Sender"
    return _envelope(report, sent, "MAILER-DAEMON@mx.example.net (Mail Delivery System)", subject)


def gmail_dsn(sent: Received, status: str = "5.1.1") -> bytes:
    recipient = sent.recipients[0]
    report = MIMEMultipart("report", report_type="delivery-status")
    explanation = MIMEMultipart("alternative")
    explanation.attach(
        MIMEText(
            f"** Address not found **\n\nYour message wasn't delivered to {recipient} because the address "
            "couldn't be found, or is unable to receive mail.\n\nThe response from the remote server was:\n"
            f"550 {status} The email account that you tried to reach does not exist.\n",
            "plain",
            "utf-8",
        )
    )
    explanation.attach(MIMEText(f"<html><body><h1>Address not found</h1><p>{recipient}</p></body></html>", "html"))
    report.attach(explanation)
    per_message = _block(
        Reporting_MTA="dns; googlemail.com",
        Received_From_MTA="dns; relay.example.org",
        Arrival_Date="Tue, 01 Dec 2026 01:00:00 -0800 (PST)",
        X_Original_Message_ID=f"{message_from_bytes(sent.data).get('Message-ID')}",
    )
    recipient_block = _block(
        Final_Recipient=f"rfc822; {recipient}",
        Action="failed",
        Status=status,
        Remote_MTA="dns; gmail-smtp-in.l.google.com. (2607:f8b0:4864:20::42a, the server for the domain.)",
        Diagnostic_Code=f"smtp; 550-{status} The email account that you tried to reach does not exist. Please try "
        "double-checking the recipient's email address for typos or unnecessary spaces. "
        f"https://support.google.com/mail/?p=NoSuchUser a1si{status} - gsmtp",
        Last_Attempt_Date="Tue, 01 Dec 2026 01:00:01 -0800 (PST)",
    )
    report.attach(_status_part(per_message, [recipient_block]))
    report.attach(MIMEMessage(message_from_bytes(sent.data)))
    report["X-Failed-Recipients"] = recipient
    return _envelope(
        report, sent, "Mail Delivery Subsystem <mailer-daemon@googlemail.com>", "Delivery Status Notification (Failure)"
    )


def exim_classic(sent: Received) -> bytes:
    recipient = sent.recipients[0]
    body = (
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        f"  {recipient}\n"
        f"    SMTP error from remote mail server after RCPT TO:<{recipient}>:\n"
        f"    host mail.example.org [192.0.2.25]: 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        f"Return-path: <{sent.sender}>\n" + sent.data.decode("utf-8", "replace").replace("\r\n", "\n")
    )
    report = MIMEText(body, "plain", "utf-8")
    del report["Content-Transfer-Encoding"]
    report.set_charset("utf-8")
    report["X-Failed-Recipients"] = recipient
    return _envelope(
        report,
        sent,
        "Mail Delivery System <Mailer-Daemon@mx.example.net>",
        "Mail delivery failed: returning message to sender",
    )  # type: ignore[arg-type]


def exim_dsn(sent: Received, status: str = "5.0.0") -> bytes:
    recipient = sent.recipients[0]
    report = MIMEMultipart("report", report_type="delivery-status")
    report.attach(
        MIMEText(
            "This message was created automatically by mail delivery software.\n\nA message that you sent could "
            f"not be delivered to one or more of its\nrecipients. This is a permanent error. The following "
            f"address(es) failed:\n\n  {recipient}\n    mailbox is full: retry timeout exceeded\n",
            "plain",
            "utf-8",
        )
    )
    per_message = _block(Reporting_MTA="dns; mx.example.net")
    recipient_block = _block(
        Action="failed",
        Final_Recipient=f"rfc822;{recipient}",
        Status=status,
    )
    report.attach(_status_part(per_message, [recipient_block]))
    report.attach(MIMEText(_headers_of(sent.data), "rfc822-headers", "utf-8"))
    report["X-Failed-Recipients"] = recipient
    return _envelope(
        report,
        sent,
        "Mail Delivery System <Mailer-Daemon@mx.example.net>",
        "Mail delivery failed: returning message to sender",
    )


def arf_complaint(sent: Received, to: str = "fbl@lists.example.org", redacted: bool = True) -> bytes:
    report = MIMEMultipart("report", report_type="feedback-report")
    report.attach(
        MIMEText("This is an email abuse report for an email message received from IP 192.0.2.10.\n", "plain")
    )
    fields = MIMEBase("message", "feedback-report")
    fields.set_payload(
        [
            _block(
                Feedback_Type="abuse",
                User_Agent="Yahoo!-Mail-Feedback/2.0",
                Version="1",
                Original_Mail_From=f"<{sent.sender}>",
                Original_Rcpt_To="<redacted@example.org>" if redacted else f"<{sent.recipients[0]}>",
                Arrival_Date="Tue, 01 Dec 2026 10:00:00 +0000",
                Reported_Domain="lists.example.org",
                Source_IP="192.0.2.10",
            )
        ]
    )
    # MIMEBase leaves the payload as a list of blocks; the generator writes it like a delivery-status part.
    fields.set_type("message/delivery-status")
    report.attach(fields)
    original = message_from_bytes(sent.data)
    if redacted:
        original.replace_header("To", "redacted@example.org")
    report.attach(MIMEMessage(original))
    raw = _envelope(report, sent, "Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>", "FW: report", to)
    return raw.replace(b"Content-Type: message/delivery-status", b"Content-Type: message/feedback-report")


def plain_reply(to: str) -> bytes:
    """An out-of-office reply: nothing a bounce processor understands."""
    message = MIMEText("I am away until Monday and will read your message then.\n", "plain", "utf-8")
    message["From"] = "Someone <someone@example.net>"
    message["To"] = to
    message["Subject"] = "Out of office: your weekly digest"
    message["Message-ID"] = make_msgid(domain="example.net")
    return message.as_bytes(policy=policy.SMTP)
