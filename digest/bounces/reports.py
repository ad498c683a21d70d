"""Reading bounce and complaint reports: delivery status notifications (RFC 3464) and feedback-loop
complaints (ARF, RFC 5965), in the shapes real servers write them.

- Postfix, Gmail and modern Exim send ``multipart/report; report-type=delivery-status`` with a
  ``message/delivery-status`` part (one block per recipient: Final-Recipient, Action, Status,
  Diagnostic-Code) and the original message or its headers.
- Classic Exim sends plain text ("A message that you sent could not be delivered …") with an
  ``X-Failed-Recipients`` header and the SMTP error in the text, then a copy of the message.
- Mailbox providers' feedback loops send ``multipart/report; report-type=feedback-report`` with a
  ``message/feedback-report`` part (Feedback-Type, Original-Mail-From, Original-Rcpt-To).

Everything in a report is outside data: fields are unfolded, stripped of control characters and cut
to length before anything keeps them. Only the parts are looked at, never more than MAX_PARTS of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, message_from_string, policy
from email.message import Message
from email.utils import getaddresses, parseaddr

from digest.clean import strip_controls

MAX_PARTS = 50  # MIME parts looked at in one report
MAX_RECIPIENTS = 20  # recipient blocks read from one delivery-status part
MAX_FIELD = 1000  # characters kept of a diagnostic
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other")
SUCCESS_ACTIONS = ("delivered", "relayed", "expanded")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45])\d\d[ -]")
_EXIM_COPY = re.compile(r"^-+ This is a copy of the message", re.MULTILINE | re.IGNORECASE)
_MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^>\s]{1,300}>)", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Report:
    """What one report says about one recipient of one message."""

    kind: str  # hard | soft | complaint | unknown
    status: str | None = None  # 5.1.1, 4.2.2; a complaint's feedback type
    action: str | None = None  # the report's own word: failed, delayed; abuse for a complaint
    recipient: str | None = None  # Original-Recipient, else Final-Recipient (or Original-Rcpt-To)
    message_id: str | None = None  # the original message's Message-ID
    addresses: tuple[str, ...] = field(default=())  # where the report was sent: our VERP address, if any
    reason: str | None = None  # the diagnostic, or why the report was not understood


def parse(raw: bytes) -> list[Report]:
    """The reports one message carries: one per failed recipient, one complaint, nothing for a
    success notice, or a single ``unknown`` report saying why it was not understood."""
    try:
        message = message_from_bytes(raw, policy=policy.compat32)
    except Exception as error:  # the parser is lenient; anything it still raises is a broken message
        return [Report("unknown", reason=f"not a readable message: {type(error).__name__}")]
    addresses = _envelope_addresses(message)
    if message.get_content_type() == "multipart/report":
        report_type = (message.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            return _delivery_status(message, addresses)
        if report_type == "feedback-report":
            return [_feedback(message, addresses)]
        return [Report("unknown", addresses=addresses, reason=f"a report of type {report_type or 'none'!r}")]
    if message.get("X-Failed-Recipients"):
        return _exim_text(message, addresses)
    subject = _clean(message.get("Subject", ""), 200)
    return [Report("unknown", addresses=addresses, reason=f"not a bounce or complaint report (subject {subject!r})")]


# --------------------------------------------------------------------------- delivery status (RFC 3464)


def _delivery_status(message: Message, addresses: tuple[str, ...]) -> list[Report]:
    blocks = next((_status_blocks(part) for part in _parts(message) if _is_status(part)), None)
    if blocks is None:
        return [Report("unknown", addresses=addresses, reason="a delivery report without its delivery-status part")]
    original = _original_headers(message)
    message_id = _message_id(original)
    addresses += _addresses_of(original, ("Return-Path",))  # some servers quote our envelope sender there
    reports = []
    for block in blocks[1 : 1 + MAX_RECIPIENTS]:  # the first block is about the message, the others per recipient
        report = _recipient_report(block, addresses, message_id)
        if report is not None:
            reports.append(report)
    if not reports and not any(_action(block) in SUCCESS_ACTIONS for block in blocks[1:]):
        return [Report("unknown", addresses=addresses, message_id=message_id, reason="no recipient in the report")]
    return reports


def _recipient_report(block: Message, addresses: tuple[str, ...], message_id: str | None) -> Report | None:
    action = _action(block)
    if action in SUCCESS_ACTIONS:
        return None  # a delivery confirmed: nothing to do
    diagnostic = _clean(block.get("Diagnostic-Code", ""), MAX_FIELD) or None
    status = _status(block.get("Status", "")) or _status(diagnostic or "") or _status_of_code(diagnostic or "")
    if status is None:
        status = "5.0.0" if action == "failed" else "4.0.0" if action == "delayed" else None
    recipient = _recipient(block.get("Original-Recipient", "")) or _recipient(block.get("Final-Recipient", ""))
    if status is None or status.startswith("2"):
        reason = f"no failure status (action {action or 'none'!r})"
        return Report("unknown", status, action or None, recipient, message_id, addresses, reason)
    kind = "hard" if status.startswith("5") else "soft"
    return Report(kind, status, action or None, recipient, message_id, addresses, diagnostic)


def _is_status(part: Message) -> bool:
    return part.get_content_type() in ("message/delivery-status", "message/global-delivery-status")


def _status_blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status part (the parser splits them; a text payload is split here)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)][: MAX_RECIPIENTS + 1]
    text = part.get_payload(decode=True) or b""
    chunks = re.split(r"\r?\n\s*\r?\n", text.decode("utf-8", "replace"))
    return [message_from_string(chunk.strip() + "\n\n") for chunk in chunks if chunk.strip()][: MAX_RECIPIENTS + 1]


def _action(block: Message) -> str:
    return _clean(block.get("Action", ""), 32).lower()


# --------------------------------------------------------------------------- classic Exim


def _exim_text(message: Message, addresses: tuple[str, ...]) -> list[Report]:
    text = _plain_text(message)
    copy = _EXIM_COPY.search(text)
    explanation, quoted = (text[: copy.start()], text[copy.end() :]) if copy else (text, "")
    found = _MESSAGE_ID.search(quoted)
    message_id = found.group(1) if found else None
    status = _status(explanation) or _status_of_code(explanation)
    recipients = [address for _, address in getaddresses([message.get("X-Failed-Recipients", "")]) if address]
    if status is None:
        status = "5.0.0"  # Exim writes X-Failed-Recipients only once it has given up on them
    kind = "hard" if status.startswith("5") else "soft"
    reason = _clean(_error_line(explanation), MAX_FIELD) or None
    return [
        Report(kind, status, "failed", _clean(address, 320).lower(), message_id, addresses, reason)
        for address in recipients[:MAX_RECIPIENTS]
    ]


def _error_line(text: str) -> str:
    """The line naming the SMTP error (Exim's "SMTP error from remote mail server after RCPT TO: …")."""
    lines = [line.strip() for line in text.splitlines()]
    for index, line in enumerate(lines):
        if "error" in line.lower() and (_STATUS.search(line) or _SMTP_CODE.search(line)):
            return line
        if line.lower().startswith("smtp error"):
            return " ".join(lines[index : index + 2])
    return ""


# --------------------------------------------------------------------------- complaints (ARF, RFC 5965)


def _feedback(message: Message, addresses: tuple[str, ...]) -> Report:
    part = next((part for part in _parts(message) if part.get_content_type() == "message/feedback-report"), None)
    if part is None:
        return Report("unknown", addresses=addresses, reason="a feedback report without its feedback-report part")
    fields = _feedback_fields(part)
    feedback_type = _clean(fields.get("Feedback-Type", ""), 32).lower()
    original = _original_headers(message)
    addresses += _addresses_of(fields, ("Original-Mail-From",)) + _addresses_of(original, ("Return-Path",))
    recipient = _recipient(fields.get("Original-Rcpt-To", "")) or _recipient(fields.get("Removal-Recipient", ""))
    message_id = _message_id(original)
    if feedback_type not in COMPLAINT_TYPES:
        reason = f"a feedback report of type {feedback_type or 'none'!r}, not a complaint"
        return Report("unknown", feedback_type or None, None, recipient, message_id, addresses, reason)
    agent = _clean(fields.get("User-Agent", ""), 200)
    reason = f"complaint reported by {agent}" if agent else "complaint"
    return Report("complaint", feedback_type, feedback_type, recipient, message_id, addresses, reason)


def _feedback_fields(part: Message) -> Message:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    text = part.get_payload(decode=True) or b""
    return message_from_string(text.decode("utf-8", "replace").strip() + "\n\n")


# --------------------------------------------------------------------------- shared


def _parts(message: Message) -> Iterator[Message]:
    """The message's parts, depth first, at most MAX_PARTS (a nested message/rfc822 is not entered)."""
    stack, seen = [message], 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            stack.extend(reversed([child for child in part.get_payload() if isinstance(child, Message)]))


def _original_headers(message: Message) -> Message | None:
    """The original message (message/rfc822) or its headers (text/rfc822-headers) that a report quotes."""
    for part in _parts(message):
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if kind in ("text/rfc822-headers", "text/global-headers"):
            text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
            return message_from_string(text.strip() + "\n\n")
    return None


def _message_id(original: Message | None) -> str | None:
    if original is None:
        return None
    value = _clean(original.get("Message-ID", ""), 300)
    found = re.search(r"<[^<>\s]+>", value)
    return found.group() if found else None


def _envelope_addresses(message: Message) -> tuple[str, ...]:
    return _addresses_of(message, ENVELOPE_HEADERS)


def _addresses_of(message: Message | None, names: tuple[str, ...]) -> tuple[str, ...]:
    if message is None:
        return ()
    values = [_clean(value, 1000) for name in names for value in (message.get_all(name) or [])[:10]]
    return tuple(address.lower() for _, address in getaddresses(values)[:20] if "@" in address)


def _recipient(value: str) -> str | None:
    """The address of an ``rfc822; someone@example.org`` field."""
    _, _, address = _clean(value, 400).rpartition(";")
    found = parseaddr(address.strip())[1]
    return found.lower() if "@" in found else None


def _status(value: str) -> str | None:
    found = _STATUS.search(value)
    return ".".join(found.groups()) if found else None


def _status_of_code(text: str) -> str | None:
    """An enhanced status from a bare SMTP reply code (550 → 5.0.0) when no enhanced one is given."""
    found = _SMTP_CODE.search(text)
    return f"{found.group(1)}.0.0" if found else None


def _plain_text(message: Message) -> str:
    for part in _parts(message):
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True) or b""
            try:
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
            except LookupError:  # a charset nobody knows
                return payload.decode("utf-8", "replace")
    return ""


def _clean(value: object, limit: int) -> str:
    """A header's value on one line, without control characters, cut to `limit` characters."""
    return " ".join(strip_controls(str(value)).split())[:limit]
