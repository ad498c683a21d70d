"""Demo data for a first look: the bundled sample sources, a few subscribers and an admin editor."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.audit import SYSTEM
from digest.config import SourceConfig
from digest.editors.accounts import add_editor, find_editor
from digest.items.sources import sync_from_config
from digest.models import Editor
from digest.subscribers.roster import add_subscriber, find_subscriber

DEMO_SOURCES = (
    SourceConfig(name="ECCP News", url="sample://news.rss", kind="news"),
    SourceConfig(name="Cluster Achievements", url="sample://achievements.atom", kind="achievement"),
    SourceConfig(name="Open Calls", url="sample://calls.rss", kind="call"),
    SourceConfig(name="Cluster Events", url="sample://events.ics", kind="event"),
)

DEMO_SUBSCRIBERS = (
    ("marie.dubois@example.org", "Marie Dubois"),
    ("jan.kowalski@example.org", "Jan Kowalski"),
    ("ana.ferreira@example.org", "Ana Ferreira"),
    ("lukas.gruber@example.org", "Lukas Gruber"),
    ("sofia.romano@example.org", "Sofia Romano"),
)
DEMO_ADMIN = "admin@example.org"


@dataclass
class DemoReport:
    sources_added: list[str] = field(default_factory=list)
    subscribers_added: int = 0
    admin_email: str = DEMO_ADMIN
    admin_password: str | None = None  # set only when the account was created now


def load_demo(session: Session, declared_sources: list[SourceConfig]) -> DemoReport:
    """Add what is missing; running it again changes nothing."""
    report = DemoReport()
    report.sources_added = sync_from_config(session, declared_sources or DEMO_SOURCES)
    for email, name in DEMO_SUBSCRIBERS:
        if find_subscriber(session, email) is None:
            add_subscriber(session, SYSTEM, email, name, confirmed=True)
            report.subscribers_added += 1
    if find_editor(session, DEMO_ADMIN) is None and not _any_admin(session):
        report.admin_password = secrets.token_urlsafe(12)
        add_editor(session, SYSTEM, DEMO_ADMIN, report.admin_password, role="admin")
    return report


def _any_admin(session: Session) -> bool:
    return session.scalar(select(Editor.id).where(Editor.role == "admin").limit(1)) is not None
