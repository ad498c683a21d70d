"""What the scheduler tells the editors, by email to every editor account through the configured
transport: a draft digest to review, a scheduled send that was missed or failed, a job that failed (the assembly).

Each message is sent once: it is recorded in the audit log (``scheduler.notice``, with its kind and key)
after it has gone out, and a message already recorded is not sent again when a job runs twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.config import Config
from digest.delivery.dkim import make_signer
from digest.delivery.notices import Notice, send_notice
from digest.delivery.transport import make_transport
from digest.models import AuditEntry, Edition, Editor
from digest.runtime import Runtime

log = logging.getLogger(__name__)
ACTION = "scheduler.notice"


@dataclass(frozen=True)
class EditorMessage:
    kind: str  # draft_ready | send_missed | send_failed | job_failed
    key: str  # what makes it this message: the trigger time, the send time that was missed
    subject: str
    text: str
    edition_id: int | None = None


def local(config: Config, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(config.site.timezone)).strftime("%A %d %B %Y, %H:%M %Z")


def _about_edition(
    config: Config, edition: Edition, *, kind: str, key: datetime, subject: str, text: str
) -> EditorMessage:
    """A message about one edition: its title ends the subject, the ways to review and send it end the text."""
    return EditorMessage(
        kind=kind,
        key=key.isoformat(),
        edition_id=edition.id,
        subject=f"[{config.site.name}] {subject}: {edition.title}",
        text=(
            f"{text}\n\n"
            f"Review it: {config.site.base_url}/editor/editions/{edition.id}\n"
            f"       or: digest edition show {edition.id}\n"
            f"Send it:   digest edition send {edition.id}\n"
        ),
    )


def draft_ready(config: Config, edition: Edition, fire: datetime, reason: str) -> EditorMessage:
    count = len(edition.entries)
    return _about_edition(
        config,
        edition,
        kind="draft_ready",
        key=fire,
        subject="The weekly digest is ready for review",
        text=(
            f"The weekly digest “{edition.title}” (edition {edition.id}, {count} item{'s' if count != 1 else ''}) "
            f"was assembled for {local(config, fire)}.\n\n{reason}"
        ),
    )


def send_missed(config: Config, edition: Edition, scheduled_at: datetime, now: datetime) -> EditorMessage:
    hours = (now - scheduled_at).total_seconds() / 3600
    grace = config.schedules.send_grace_hours
    return _about_edition(
        config,
        edition,
        kind="send_missed",
        key=scheduled_at,
        subject="Not sent at its time",
        text=(
            f"Edition {edition.id} (“{edition.title}”) was scheduled for {local(config, scheduled_at)}, but no "
            f"scheduler was running then. That was {hours:.1f} hours ago, more than the grace period of {grace:g} "
            "hours, so it was not sent automatically.\n\n"
            "It is a draft again. Check that it is still current, then send it, or schedule it again with "
            f"`digest edition schedule {edition.id} --at …`."
        ),
    )


def send_failed(config: Config, edition: Edition, scheduled_at: datetime, error: str) -> EditorMessage:
    return _about_edition(
        config,
        edition,
        kind="send_failed",
        key=scheduled_at,
        subject="Could not be sent",
        text=(
            f"Edition {edition.id} (“{edition.title}”) could not be sent at its scheduled time, "
            f"{local(config, scheduled_at)}:\n\n  {error}\n\n"
            "It is a draft again: fix the cause, then send it or schedule it again."
        ),
    )


def job_failed(config: Config, label: str, fire: datetime, error: str, advice: str) -> EditorMessage:
    return EditorMessage(
        kind="job_failed",
        key=f"{label}@{fire.isoformat()}",
        subject=f"[{config.site.name}] Scheduled job failed: {label}",
        text=f"“{label}”, due {local(config, fire)}, failed:\n\n  {error}\n\n{advice}\n",
    )


class EditorNotifier:
    """Sends an EditorMessage to every editor account, once."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def tell(self, message: EditorMessage) -> str:
        """Send it unless it went out before; return what happened, for the run's record."""
        with self.runtime.sessions() as session:
            if _already_told(session, message):
                return f"editors already told ({message.kind})"
            recipients = list(session.scalars(select(Editor.email).order_by(Editor.id)))
        failures = self._send(message, recipients) if recipients else []
        with self.runtime.sessions() as session, session.begin():
            session.add(
                AuditEntry(
                    actor="scheduler",
                    action=ACTION,
                    target_type="edition" if message.edition_id else "job",
                    target_id=message.edition_id,
                    detail={"kind": message.kind, "key": message.key, "to": recipients, "failed": failures},
                )
            )
        if not recipients:
            return "no editor account to tell (add one with `digest editors add`)"
        told = len(recipients) - len(failures)
        return f"told {told} editor{'s' if told != 1 else ''}" + (f"; not sent to {len(failures)}" if failures else "")

    def _send(self, message: EditorMessage, recipients: list[str]) -> list[str]:
        config = self.runtime.config
        transport = make_transport(config)
        sign = make_signer(config)
        failures = []
        try:
            for address in recipients:
                try:
                    send_notice(transport, config, Notice(to=address, subject=message.subject, text=message.text), sign)
                except Exception as error:  # one bad address or a server hiccup must not stop the job
                    log.error("could not tell %s (%s): %s", address, message.kind, error)
                    failures.append(address)
        finally:
            transport.close()
        return failures


def _already_told(session: Session, message: EditorMessage) -> bool:
    target = AuditEntry.target_id == message.edition_id if message.edition_id else AuditEntry.target_id.is_(None)
    entries = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == ACTION, target))
    return any(detail.get("kind") == message.kind and detail.get("key") == message.key for detail in entries)
