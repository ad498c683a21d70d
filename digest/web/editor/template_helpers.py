"""Filters the editors' templates use: audit lines in words, relative times, local input values."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from digest.models import AuditEntry, utcnow
from digest.rendering import dates
from digest.web.context import runtime
from digest.web.editor.blueprint import blueprint

ACTIONS = {
    "item.approved": "approved",
    "item.rejected": "rejected",
    "item.featured": "featured",
    "item.unfeatured": "unfeatured",
    "item.edited": "edited",
    "edition.created": "created",
    "edition.texts_changed": "changed the texts",
    "edition.items_added": "added items",
    "edition.item_removed": "removed an item",
    "edition.item_moved": "moved an item",
    "edition.sections_ordered": "reordered the sections",
    "edition.section_renamed": "renamed a section",
    "edition.section_layout": "changed a section's layout",
    "edition.test_sent": "sent a test",
    "edition.scheduled": "scheduled",
    "edition.send_started": "started sending",
    "edition.cancelled": "cancelled",
    "edition.restored": "took it back to a draft after it was cancelled",
    "edition.unscheduled": "took it back to a draft before its time",
    "edition.resumed": "resumed sending",
    "edition.held": "held it back from automatic sending",
    "edition.unheld": "let it go out automatically",
    "edition.paused": "paused sending",
    "edition.released": "released at its scheduled time",
    "edition.send_missed": "missed its scheduled time",
    "source.added": "added",
    "source.edited": "edited",
    "source.enabled": "switched on",
    "source.disabled": "switched off",
    "source.collected": "collected now",
    "subscriber.added": "added",
    "subscriber.unsubscribed": "unsubscribed",
    "subscriber.forgotten": "erased (forgotten)",
    "subscribers.imported": "imported subscribers",
    "subscribers.exported": "exported subscribers",
    "editor.logged_in": "logged in",
    "editor.logged_out": "logged out",
    "editor.added": "added an editor",
    "editor.role_changed": "changed a role",
    "editor.password_set": "set a new password",
    "editor.removed": "removed an editor",
}
DETAIL_SHOWN = (
    *("note", "to", "at", "was_at", "scheduled_at", "recipients", "section", "new_title", "layout"),
    *("fields", "role", "email", "was", "status"),
)


@blueprint.app_template_filter("audit_action")
def audit_action(entry: AuditEntry) -> str:
    return ACTIONS.get(entry.action, entry.action.replace("_", " ").replace(".", ": "))


@blueprint.app_template_filter("audit_detail")
def audit_detail(entry: AuditEntry) -> str:
    """The detail worth a glance, in a line: a note, a recipient, the fields changed…"""
    detail: dict[str, Any] = dict(entry.detail or {})
    if entry.action in ("item.edited", "source.edited"):
        return "changed " + ", ".join(name.replace("_", " ") for name in detail)
    if entry.action == "source.collected":
        if detail.get("status") == "error":
            return f"error: {detail.get('error')}"
        return f"{detail.get('new', 0)} new of {detail.get('fetched', 0)}"
    if entry.action == "subscribers.imported":
        return ", ".join(f"{detail.get(key, 0)} {key}" for key in ("added", "updated", "unchanged", "rejected"))
    parts = []
    zone = runtime().config.site.timezone
    for key in DETAIL_SHOWN:
        if detail.get(key) not in (None, "", []):
            value = dates.local_text(detail[key], zone)  # times are stored in UTC, read in the site's zone
            parts.append(f"{key.replace('_', ' ')}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    return "; ".join(parts)


@blueprint.app_template_filter("web_link")
def web_link(url: str | None) -> str | None:
    """The address when it is an http(s) link, else None: nothing else becomes an href."""
    return url if url and urlsplit(url).scheme in ("http", "https") else None


@blueprint.app_template_filter("relative")
def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """“in 3 days”, “2 hours ago”: how far a time is from now, roughly."""
    if moment is None:
        return ""
    seconds = (moment - (now or utcnow())).total_seconds()
    span = abs(seconds)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if span >= size:
            count = int(span // size)
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {words}" if seconds > 0 else f"{words} ago"
    return "now"
