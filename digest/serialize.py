"""The JSON shapes of DESIGN.md: what `--json` prints and the web API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from digest.models import AuditEntry, Edition, Editor, Item, Source, Subscriber


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def item_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "status": item.status,
        "title": item.title,
        "summary": item.summary,
        "url": item.url,
        "source": item.source_name,
        "organisation": item.organisation,
        "country": item.country,
        "topics": list(item.topics or []),
        "published_at": iso(item.published_at),
        "starts_at": iso(item.starts_at),
        "ends_at": iso(item.ends_at),
        "location": item.location,
        "timezone": item.timezone,
        "deadline": iso(item.deadline),
        "all_day": item.all_day,
        "featured": item.featured,
        "editor_note": item.editor_note,
        "collected_at": iso(item.collected_at),
    }


def source_json(source: Source) -> dict[str, Any]:
    return {
        "name": source.name,
        "url": source.url,
        "kind": source.kind,
        "enabled": source.enabled,
        "status": source.last_status,
        "last_error": source.last_error,
        "consecutive_errors": source.consecutive_errors,
        "last_fetch_at": iso(source.last_fetch_at),
        "next_fetch_at": iso(source.next_fetch_at),
    }


def edition_json(edition: Edition, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": edition.id,
        "type": edition.type,
        "status": edition.status,
        "title": edition.title,
        "subject": edition.subject,
        "preheader": edition.preheader,
        "slug": edition.slug,
        "scheduled_at": iso(edition.scheduled_at),
        "sent_at": iso(edition.sent_at),
        "created_at": iso(edition.created_at),
        "items": [entry.item_id for entry in edition.entries],
        "sections": _sections(edition),
        "counts": counts,
    }


def _sections(edition: Edition) -> list[dict[str, Any]]:
    sections: dict[str, list[int]] = {}
    for entry in edition.entries:
        sections.setdefault(entry.section, []).append(entry.item_id)
    return [{"title": title, "items": ids} for title, ids in sections.items()]


def subscriber_json(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "name": subscriber.name,
        "status": subscriber.status,
        "preferences": dict(subscriber.preferences or {}),
        "language": subscriber.language,
        "created_at": iso(subscriber.created_at),
        "confirmed_at": iso(subscriber.confirmed_at),
        "unsubscribed_at": iso(subscriber.unsubscribed_at),
    }


def editor_json(editor: Editor) -> dict[str, Any]:
    return {"id": editor.id, "email": editor.email, "role": editor.role, "created_at": iso(editor.created_at)}


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """`target` reads like "item 12"; a trail line about many things (an import) has no id."""
    target = entry.target_type if entry.target_id is None else f"{entry.target_type} {entry.target_id}"
    return {
        "at": iso(entry.created_at),
        "actor": entry.actor,
        "action": entry.action,
        "target": target,
        "detail": dict(entry.detail or {}),
    }
