"""Changing a source from the editors' app: its name, address and kind, and switching it off or on.
(Adding and removing are digest.items.sources's; the same rules apply.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from digest.config import SOURCE_KINDS
from digest.items.sources import SourceError, find_source
from digest.models import Source

FEED_SCHEMES = ("http://", "https://", "file://", "sample://")


def get_source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise SourceError(f"no source with id {source_id}")
    return source


def edit_source(session: Session, source_id: int, name: str, url: str, kind: str) -> tuple[Source, dict[str, Any]]:
    """Apply the changes; return the source and what changed."""
    source = get_source(session, source_id)
    name, url = name.strip(), url.strip()
    if not name:
        raise SourceError("a source needs a name")
    if kind not in SOURCE_KINDS:
        raise SourceError(f"unknown kind {kind!r}; use one of {', '.join(SOURCE_KINDS)}")
    if not url.startswith(FEED_SCHEMES):
        raise SourceError(f"{url!r} is not a feed URL (http://, https://, file:// or sample://)")
    other = find_source(session, name)
    if other is not None and other.id != source.id:
        raise SourceError(f"a source named {name!r} already exists")
    changed = {
        field: {"from": getattr(source, field), "to": value}
        for field, value in (("name", name), ("url", url), ("kind", kind))
        if getattr(source, field) != value
    }
    if "url" in changed:  # a new address: what the old one said about caching and health no longer applies
        source.etag = source.last_modified = source.content_hash = None
        source.consecutive_errors, source.next_fetch_at = 0, None
    source.name, source.url, source.kind = name, url, kind
    return source, changed


def set_enabled(session: Session, source_id: int, enabled: bool) -> Source:
    source = get_source(session, source_id)
    source.enabled = enabled
    return source
