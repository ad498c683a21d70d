"""Reports from an SMTP relay service (POST /api/bounces): checked, then recorded like the mailbox's.

A body is one report object or a list of them (at most ``bounces.max_webhook_reports``):
``{"email": …, "type": "hard" | "soft" | "complaint", "reason": …, "message_id": …}``. Either every
report is valid and all are recorded in one transaction, or nothing is and each problem is named.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from digest import audit
from digest.bounces.outcomes import Outcome, record_report
from digest.bounces.processing import context_of
from digest.bounces.reports import Report
from digest.clean import has_controls
from digest.runtime import Runtime
from digest.subscribers.roster import SubscriberError, normalise_email

TYPES = ("hard", "soft", "complaint")
FIELDS = ("email", "type", "reason", "message_id")
RELAY = audit.Actor("relay")  # who the audit trail names for what the webhook reports
STATUS_OF_TYPE = {"hard": "5.0.0", "soft": "4.0.0", "complaint": "abuse"}


@dataclass(frozen=True)
class Problem:
    field: str | None
    message: str

    def as_json(self) -> dict[str, str | None]:
        return {"field": self.field, "message": self.message}


class WebhookInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


def read_reports(body: Any, limit: int) -> list[Report]:
    """The reports of a request body, or WebhookInvalid naming every problem (fields as ``email`` for one
    report, ``2.email`` for the third of a list)."""
    single = isinstance(body, dict)
    entries = [body] if single else body
    if not isinstance(entries, list) or not entries:
        raise WebhookInvalid([Problem(None, "Send one report object, or a list of them.")])
    if len(entries) > limit:
        raise WebhookInvalid([Problem(None, f"At most {limit} reports a request; send the rest in another.")])
    reports, problems = [], []
    for number, entry in enumerate(entries):
        prefix = "" if single else f"{number}."
        report, found = _report(entry, prefix)
        reports.append(report)
        problems += found
    if problems:
        raise WebhookInvalid(problems)
    return [report for report in reports if report is not None]


def _report(entry: Any, prefix: str) -> tuple[Report | None, list[Problem]]:
    if not isinstance(entry, dict):
        return None, [Problem(prefix.rstrip(".") or None, "Each report is an object with email and type.")]
    problems = [Problem(f"{prefix}{name}", "Unknown field.") for name in entry if name not in FIELDS][:10]
    email, kind = entry.get("email"), entry.get("type")
    reason, message_id = entry.get("reason"), entry.get("message_id")
    address = None
    if not isinstance(email, str) or not email.strip():
        problems.append(Problem(f"{prefix}email", "The recipient's address is required."))
    else:
        try:
            address = normalise_email(email[:320])
        except SubscriberError:
            problems.append(Problem(f"{prefix}email", "Not a valid email address."))
    if kind not in TYPES:
        problems.append(Problem(f"{prefix}type", "Use hard, soft or complaint."))
    problems += _text_problem(reason, f"{prefix}reason", 1000)
    problems += _text_problem(message_id, f"{prefix}message_id", 300)
    if problems:
        return None, problems
    return Report(
        kind,
        STATUS_OF_TYPE[kind],
        "relay",
        address,
        _bracketed(message_id) if message_id else None,
        (),
        reason or None,
    ), []


def _text_problem(value: Any, field: str, limit: int) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [Problem(field, "Must be a string.")]
    if len(value) > limit:
        return [Problem(field, f"At most {limit} characters.")]
    if has_controls(value):
        return [Problem(field, "Holds a control character.")]
    return []


def _bracketed(message_id: str) -> str:
    value = message_id.strip()
    return value if value.startswith("<") else f"<{value}>"


def record_webhook(runtime: Runtime, body: Any) -> list[Outcome]:
    """Check the body and record its reports in one transaction (WebhookInvalid: nothing recorded)."""
    reports = read_reports(body, runtime.config.bounces.max_webhook_reports)
    context = context_of(runtime, RELAY, "webhook")
    with runtime.sessions() as session, session.begin():
        return [record_report(session, context, report, _key(report), per_delivery=True) for report in reports]


def _key(report: Report) -> str:
    """The same report sent again (a relay retrying) is recorded once."""
    fields = [report.recipient, report.kind, report.message_id, report.reason]
    return "w:" + hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:48]
