"""An editor's corrections to an item: title, summary, kind, dates, deadline, link and the like.

The summary is sanitised by the same allowlist as collected summaries (nh3), titles and other
one-line fields are plain text, the link must be an absolute http(s) URL. An item that has gone out
in an edition keeps the text subscribers got.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from digest.items.queue import QueueError, get_items
from digest.models import ITEM_KINDS, Item
from digest.web.editor.actions import FormError
from digest.web.editor.local_time import parse_optional
from sources.normalise import LIMITS, canonical_url, plain_text, sanitise_html

FROZEN_STATUSES = ("published",)
TEXT_FIELDS = ("title", "organisation", "country", "location")
TIME_FIELDS = ("published_at", "starts_at", "ends_at", "deadline")


@dataclass(frozen=True)
class ItemChanges:
    title: str
    summary: str
    kind: str
    url: str | None
    organisation: str | None
    country: str | None
    location: str | None
    published_at: datetime | None
    starts_at: datetime | None
    ends_at: datetime | None
    deadline: datetime | None


def changes_from_form(form: Mapping[str, str], timezone: str) -> ItemChanges:
    """Read and check the edit form; FormError says what to fix."""
    kind = form.get("kind", "")
    if kind not in ITEM_KINDS:
        raise FormError(f"choose a kind: {', '.join(ITEM_KINDS)}")
    texts = {name: plain_text(form.get(name)) or None for name in TEXT_FIELDS}
    if not texts["title"]:
        raise FormError("an item needs a title")
    for name, value in texts.items():
        if value and len(value) > LIMITS[name]:
            raise FormError(f"the {name} has at most {LIMITS[name]} characters (it has {len(value)})")
    url = None
    if (form.get("url") or "").strip():
        url = canonical_url(form["url"])
        if url is None:
            raise FormError(f"the link {form['url'].strip()!r} is not an absolute http:// or https:// address")
    times = {name: parse_optional(form.get(name), timezone, name.replace("_", " ")) for name in TIME_FIELDS}
    if kind == "event" and times["starts_at"] is None:
        raise FormError("an event needs its start")
    if times["starts_at"] and times["ends_at"] and times["ends_at"] < times["starts_at"]:
        raise FormError("an event cannot end before it starts")
    summary = sanitise_html(form.get("summary") or "", base=url)
    return ItemChanges(summary=summary, kind=kind, url=url, **texts, **times)  # type: ignore[arg-type]


def edit_item(session: Session, item_id: int, changes: ItemChanges) -> tuple[Item, dict[str, Any]]:
    """Apply the changes; return the item and what changed (old and new values, the summary by length)."""
    [item] = get_items(session, [item_id])
    if item.status in FROZEN_STATUSES:
        raise QueueError(f"item {item.id} went out in an edition; it keeps the text subscribers got")
    changed: dict[str, Any] = {}
    for spec in fields(changes):
        new, old = getattr(changes, spec.name), getattr(item, spec.name)
        if new == old or (spec.name == "summary" and new == (old or "")):
            continue
        if spec.name == "summary":
            changed["summary"] = {"from_chars": len(old or ""), "to_chars": len(new)}
        else:
            changed[spec.name] = {"from": _plain(old), "to": _plain(new)}
        setattr(item, spec.name, new)
    return item, changed


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value
