"""The audit trail: who did what, when, to which item, edition, source, subscriber or editor account."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.models import AuditEntry, Editor, utcnow


@dataclass(frozen=True)
class Actor:
    """Who an action is done by: an editor (from the web app, or the command line's --as), the command
    line's operating-system user (``cli:<user>``), or the product itself (``system``)."""

    label: str
    editor_id: int | None = None

    @classmethod
    def of(cls, editor: Editor) -> Actor:
        return cls(editor.email, editor.id)

    @classmethod
    def command_line(cls) -> Actor:
        return cls(f"cli:{_os_user()}")


SYSTEM = Actor("system")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "unknown"


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: int | None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one line to the trail, in the caller's transaction (so it exists only if the action does)."""
    entry = AuditEntry(
        editor_id=actor.editor_id,
        actor=actor.label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=dict(detail or {}),
        created_at=utcnow(),
    )
    session.add(entry)
    return entry


def entries_for(session: Session, target_type: str, target_id: int, limit: int = 100) -> list[AuditEntry]:
    """The lines about one thing, newest first."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.target_type == target_type, AuditEntry.target_id == target_id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def recent(session: Session, limit: int = 50, offset: int = 0, actor: str | None = None) -> list[AuditEntry]:
    """The latest lines of the whole trail, newest first (optionally of one actor)."""
    query = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return list(session.scalars(query.limit(limit).offset(offset)))


def count(session: Session, actor: str | None = None) -> int:
    query = select(func.count(AuditEntry.id))
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return session.scalar(query) or 0
