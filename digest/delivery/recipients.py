"""Who receives an edition: the one rule sending applies and the editors' app counts with.

An active subscriber receives an edition when its type is among their editions, and they chose no
topics, or the edition carries none, or they share one with its items (the columns this is queried
on are explained in digest/subscribers/preferences.py).
"""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from digest.models import Edition, Subscriber
from digest.subscribers.preferences import topic_key


def edition_topic_keys(edition: Edition) -> set[str]:
    """The topics of an edition: those of its items."""
    return {topic_key(topic) for entry in edition.entries for topic in (entry.item.topics or []) if topic_key(topic)}


def receives(edition: Edition) -> ColumnElement[bool]:
    """The condition on Subscriber that picks the edition's recipients."""
    return and_(
        Subscriber.status == "active",
        Subscriber.wanted_editions.contains(f"|{edition.type}|", autoescape=True),
        _topic_match(edition_topic_keys(edition)),
    )


def recipient_count(session: Session, edition: Edition) -> int:
    """How many deliveries sending the edition now would queue."""
    return session.scalar(select(func.count(Subscriber.id)).where(receives(edition))) or 0


def _topic_match(keys: set[str]) -> ColumnElement[bool]:
    if not keys:
        return true()
    wanted = Subscriber.wanted_topics
    return or_(wanted == "", *[wanted.contains(f"|{key}|", autoescape=True) for key in sorted(keys)])
