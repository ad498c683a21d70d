"""An editor's corrections to an item: title, summary, topics, kind, dates, deadline, link and the like.

The summary is edited in Markdown, as submitters write it, and stored as HTML by the same rules
(`rendering.markdown.summary_html`); a summary typed back unchanged keeps its stored HTML, and what the
rules removed from a changed one is said to the editor. Titles and other one-line fields are plain text,
topics a short list of plain words, the link must be an absolute http(s) URL. An item that has gone out
in an edition keeps the text subscribers got. Reading the values from a form (and times typed in the
site's zone) is the interface's job; what is allowed is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from digest import audit
from digest.items.queue import QueueError, get_items
from digest.models import ITEM_KINDS, TEXT_LIMITS, Item
from digest.rendering import dates
from digest.rendering.markdown import summary_changes, summary_html, summary_markdown, summary_source
from digest.rendering.sanitise import canonical_url
from digest.rendering.text import plain_text

FROZEN_STATUSES = ("published",)
TEXT_FIELDS = ("title", "organisation", "country", "location")
MAX_TOPICS = 12  # as many as a collected item keeps


class ItemError(QueueError):
    """New values for an item that cannot be used, worded for the editor."""


@dataclass(frozen=True)
class ItemChanges:
    """Every editable field of an item, as the editor gave it (times already read as UTC)."""

    title: str
    summary: str  # Markdown
    kind: str
    url: str | None
    organisation: str | None
    country: str | None
    location: str | None
    published_at: datetime | None
    starts_at: datetime | None
    ends_at: datetime | None
    deadline: datetime | None
    topics: tuple[str, ...] | None = None  # None: keep them


@dataclass(frozen=True)
class Edited:
    item: Item
    changed: dict[str, Any]  # what changed: old and new values (the summary by length)
    removed: list[str]  # what the summary's rules removed from what was typed, for the editor


def checked(changes: ItemChanges) -> ItemChanges:
    """The changes cleaned (plain text, canonical link, sanitised summary), or ItemError saying what to fix."""
    if changes.kind not in ITEM_KINDS:
        raise ItemError(f"choose a kind: {', '.join(ITEM_KINDS)}")
    texts = {name: plain_text(getattr(changes, name)) or None for name in TEXT_FIELDS}
    if not texts["title"]:
        raise ItemError("an item needs a title")
    for name, value in texts.items():
        if value and len(value) > TEXT_LIMITS[name]:
            raise ItemError(f"the {name} has at most {TEXT_LIMITS[name]} characters (it has {len(value)})")
    url = None
    if (changes.url or "").strip():
        url = canonical_url(changes.url)
        if url is None:
            raise ItemError(f"the link {changes.url.strip()!r} is not an absolute http:// or https:// address")
    if changes.kind == "event" and changes.starts_at is None:
        raise ItemError("an event needs its start")
    if changes.starts_at and changes.ends_at and changes.ends_at < changes.starts_at:
        raise ItemError("an event cannot end before it starts")
    return replace(changes, summary=summary_source(changes.summary), url=url, topics=_topics(changes.topics), **texts)


def _topics(given: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if given is None:
        return None
    kept: dict[str, str] = {}
    for raw in given:
        topic = " ".join((plain_text(raw) or "").split())
        if len(topic) > TEXT_LIMITS["topic"]:
            raise ItemError(f"a topic has at most {TEXT_LIMITS['topic']} characters: {topic[:40]!r}…")
        if topic:
            kept.setdefault(topic.casefold(), topic)
    if len(kept) > MAX_TOPICS:
        raise ItemError(f"an item has at most {MAX_TOPICS} topics (it has {len(kept)})")
    return tuple(kept.values())


def edit_item(session: Session, actor: audit.Actor, item_id: int, changes: ItemChanges) -> Edited:
    """Check and apply the changes, with an "item.edited" audit line when anything changed."""
    clean = checked(changes)
    [item] = get_items(session, [item_id])
    if item.status in FROZEN_STATUSES:
        raise QueueError(f"item {item.id} went out in an edition; it keeps the text subscribers got")
    removed: list[str] = []
    if clean.summary == summary_markdown(item.summary):
        clean = replace(clean, summary=item.summary or "")  # untouched: the stored HTML stays as it is
    else:
        typed = clean.summary
        clean = replace(clean, summary=summary_html(typed, base_url=clean.url))
        removed = summary_changes(typed, item.summary or "", clean.summary)
    if clean.topics is None:
        clean = replace(clean, topics=tuple(item.topics or ()))
    changed: dict[str, Any] = {}
    for spec in fields(clean):
        new, old = getattr(clean, spec.name), getattr(item, spec.name)
        if spec.name == "topics":
            new, old = list(new), list(old or [])
        if new == old or (spec.name == "summary" and new == (old or "")):
            continue
        if spec.name == "summary":
            changed["summary"] = {"from_chars": len(old or ""), "to_chars": len(new)}
        else:
            changed[spec.name] = {"from": _plain(old), "to": _plain(new)}
        setattr(item, spec.name, new)
    if item.all_day and changed.keys() & {"starts_at", "ends_at", "deadline"}:
        item.all_day = _still_whole_days(item)
    if changed:
        audit.record(session, actor, "item.edited", "item", item.id, changed)
    return Edited(item, changed, removed)


def _still_whole_days(item: Item) -> bool:
    """An all-day item whose new times are still whole days in its zone (an editor who types 09:00 means 09:00)."""
    if item.kind != "event" or item.starts_at is None:
        return False
    own = dates.zone(item.timezone)
    start = item.starts_at.astimezone(own)
    end = item.ends_at.astimezone(own) if item.ends_at else None
    return (start.hour, start.minute) == (0, 0) and (end is None or (end.hour, end.minute) in ((0, 0), (23, 59)))


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class SummaryPreview:
    html: str
    removed: list[str]


def summary_preview(item: Item, typed: str, url: str | None) -> SummaryPreview:
    """What saving this Markdown as the item's summary would store, and remove (nothing is changed)."""
    source = summary_source(typed)
    if source == summary_markdown(item.summary):
        return SummaryPreview(item.summary or "", [])
    stored = summary_html(source, base_url=canonical_url(url) if url else item.url)
    return SummaryPreview(stored, summary_changes(source, item.summary or "", stored))
