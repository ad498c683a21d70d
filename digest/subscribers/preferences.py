"""A subscriber's preferences: which editions, which topics — and the rule that matches them to an edition.

`Subscriber.preferences` (JSON) is what people see and edit: ``{"editions": [...], "topics": [...]}``.
JSON is queried differently on SQLite and PostgreSQL, so every ORM flush also writes two plain
text columns from it (see the listener in digest/models.py), and one portable ``INSERT … SELECT``
picks an edition's recipients with ``LIKE``:

- ``wanted_editions``: ``|digest|newsletter|`` — the edition types the person wants;
- ``wanted_topics``: ``|health|digital transition|`` — topic keys, or ``""`` for "every topic".

The matching rule (``digest.delivery.recipients``, which sending and the editors' app share): a subscriber
receives an edition when
1. its type is among their editions, and
2. they chose no topics, or the edition carries no topics, or at least one topic of the edition's
   items is among theirs (compared case- and space-insensitively).

Writes that bypass the ORM unit of work (Core ``update(Subscriber)``, ORM bulk inserts) skip the
listener: change preferences through the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from digest.clean import strip_controls

EDITION_CHOICES = ("digest", "newsletter")
MAX_TOPICS = 50
MAX_TOPIC_LENGTH = 100


class PreferenceError(ValueError):
    """Preferences that cannot be saved (an unknown edition type)."""


def topic_key(label: str) -> str:
    """The comparable form of a topic: case-folded, single spaces, no separator character."""
    return " ".join(label.replace("|", " ").casefold().split())


def clean_topics(labels: Iterable[str]) -> list[str]:
    """Trimmed labels, first spelling kept, duplicates (by key) and empties dropped."""
    seen: set[str] = set()
    kept: list[str] = []
    for label in labels:
        text = " ".join(strip_controls(str(label)).split())[:MAX_TOPIC_LENGTH]
        key = topic_key(text)
        if key and key not in seen and len(kept) < MAX_TOPICS:
            seen.add(key)
            kept.append(text)
    return kept


def make_preferences(editions: Iterable[str] = EDITION_CHOICES, topics: Iterable[str] = ()) -> dict[str, Any]:
    chosen = [edition for edition in EDITION_CHOICES if edition in set(editions)]
    unknown = sorted(set(editions) - set(EDITION_CHOICES))
    if unknown:
        raise PreferenceError(f"unknown edition type {', '.join(unknown)}; use {' or '.join(EDITION_CHOICES)}")
    return {"editions": chosen, "topics": clean_topics(topics)}


def editions_of(preferences: Mapping[str, Any] | None) -> list[str]:
    """The chosen edition types; preferences without the key mean every type."""
    preferences = preferences or {}
    if "editions" not in preferences:
        return list(EDITION_CHOICES)
    return [edition for edition in EDITION_CHOICES if edition in (preferences.get("editions") or [])]


def topics_of(preferences: Mapping[str, Any] | None) -> list[str]:
    return clean_topics((preferences or {}).get("topics") or [])


def preference_keys(preferences: Mapping[str, Any] | None) -> tuple[str, str]:
    """(wanted_editions, wanted_topics) as stored in the denormalised columns."""
    return _joined(editions_of(preferences)), _joined(sorted({topic_key(t) for t in topics_of(preferences)}))


def _joined(keys: list[str]) -> str:
    return "|" + "|".join(keys) + "|" if keys else ""
