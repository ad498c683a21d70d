"""`digest bounces process` and the scheduler's bounce job: read a mailbox of reports and record each.

One transaction per message, then the message is marked processed: a run stopped half-way loses
nothing, and a message read twice (a crash between the commit and the mark, an mbox read again)
finds its report keys taken and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest import audit
from digest.bounces.mailboxes import Incoming, open_source
from digest.bounces.outcomes import Context, Outcome, record_report
from digest.bounces.reports import Report, parse
from digest.clean import strip_controls
from digest.delivery.verp import ReturnPath
from digest.models import DeliveryReport
from digest.runtime import Runtime


@dataclass
class Run:
    """What one run did: the outcome of every report, and how many messages it read."""

    messages: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(outcome.action == action for outcome in self.outcomes)

    @property
    def summary(self) -> str:
        parts = [f"{self.messages} message{'s' if self.messages != 1 else ''} read"]
        for action in ("bounced", "counted", "complained", "recorded", "kept", "duplicate"):
            if self.count(action):
                parts.append(f"{self.count(action)} {action}")
        return ", ".join(parts)


def context_of(runtime: Runtime, actor: audit.Actor, origin: str) -> Context:
    return_path = ReturnPath.of(runtime.config.mail, runtime.secret_key)
    return Context(actor, origin, return_path, runtime.config.bounces.soft_limit)


def process_mailbox(
    runtime: Runtime,
    actor: audit.Actor,
    maildir: Path | None = None,
    mbox: Path | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Run:
    """Read the unprocessed reports of a mailbox (--maildir, --mbox, else bounces.mailbox) and record them."""
    context = context_of(runtime, actor, "mailbox")
    run = Run()
    source = open_source(runtime.config, maildir, mbox)
    try:
        for incoming in source.messages():
            run.messages += 1
            with runtime.sessions() as session, session.begin():
                outcomes = record_message(session, context, incoming)
            source.mark_processed(incoming.key)
            run.outcomes += outcomes
            for outcome in outcomes if on_outcome else ():
                on_outcome(outcome)
    finally:
        source.close()
    return run


def record_message(session: Session, context: Context, incoming: Incoming) -> list[Outcome]:
    """The outcomes of one message's reports (a message too long to read whole is kept, not parsed)."""
    digest = hashlib.sha256(incoming.raw).hexdigest()[:48]
    text = strip_controls(incoming.raw.decode("utf-8", "replace"))  # PostgreSQL stores no NUL
    if incoming.truncated:
        reports = [Report("unknown", reason=f"longer than bounces.max_message_bytes ({len(incoming.raw)} bytes)")]
    else:
        reports = parse(incoming.raw)
    return [
        record_report(session, context, report, f"m:{digest}:{number}", raw=text)
        for number, report in enumerate(reports)
    ]


def unknown_reports(session: Session, limit: int = 100) -> list[DeliveryReport]:
    """The reports kept because they were not understood, or matched nobody, newest first."""
    query = (
        select(DeliveryReport)
        .where(DeliveryReport.kind == "unknown")
        .order_by(DeliveryReport.received_at.desc(), DeliveryReport.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
