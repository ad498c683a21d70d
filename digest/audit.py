"""The audit trail: who did what, when, to which item, edition, source, subscriber or editor account."""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
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


REDACTED = "[forgotten]"  # what stands in the trail where a forgotten person's address or name was


def redact(session: Session, address: str, also: tuple[str, ...] = (), placeholder: str = REDACTED) -> int:
    """Replace `address` (and the `also` words, such as the person's name) in every line of the trail whose
    detail mentions the address, case-insensitively; return how many lines changed."""
    escaped = json.dumps(address.lower())[1:-1]  # how a JSON column holds a non-ASCII address
    text = func.lower(cast(AuditEntry.detail, Text))
    query = select(AuditEntry).where(
        or_(text.contains(address.lower(), autoescape=True), text.contains(escaped, autoescape=True))
    )
    pattern = _words([address, *also])
    changed = 0
    for entry in session.scalars(query):
        detail = _replace_in(entry.detail, pattern, placeholder)
        if detail != entry.detail:
            entry.detail, changed = detail, changed + 1
    return changed


def scrub_text(value: str | None, address: str, also: tuple[str, ...] = (), placeholder: str = REDACTED) -> str | None:
    """The text with the address (and the `also` words) replaced, case-insensitively."""
    return _words([address, *also]).sub(placeholder, value) if value else value


def _words(words: list[str]) -> re.Pattern[str]:
    kept = sorted({word for word in words if word and word.strip()}, key=len, reverse=True)  # longest first
    return re.compile("|".join(re.escape(word) for word in kept), re.IGNORECASE)


def _replace_in(value: Any, pattern: re.Pattern[str], placeholder: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(placeholder, value)
    if isinstance(value, list):
        return [_replace_in(part, pattern, placeholder) for part in value]
    if isinstance(value, dict):
        return {pattern.sub(placeholder, key): _replace_in(part, pattern, placeholder) for key, part in value.items()}
    return value
