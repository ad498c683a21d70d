"""The audit trail: who did what, when, to which item, edition, source, subscriber or editor account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.models import AuditEntry, Editor, utcnow


def record(
    session: Session,
    editor: Editor | None,
    action: str,
    target_type: str,
    target_id: int | None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one line to the trail, in the caller's transaction (so it exists only if the action does)."""
    entry = AuditEntry(
        editor_id=editor.id if editor is not None else None,
        actor=editor.email if editor is not None else "system",
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
