"""What subscribers would get from an edition, for the preview: the send-time rules applied and the
edition rendered exactly as sending renders it (then rolled back), with links signed for nobody.

Rendering is the costly step (MJML, then premailer), and one preview page asks for the HTML at two
widths and the text part: the result is kept, per process, under a fingerprint of everything the
rendering depends on (texts, sections and order, each item's last change and status, what lapsed,
what another edition sent, the local day), so it is rendered again only when one of those changes.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from digest.delivery.message import site_links
from digest.editions.compose import freeze
from digest.editions.core import get_edition, lapsed, sent_item_ids
from digest.models import Edition, EditionItem, utcnow
from digest.rendering.render import personalise
from digest.runtime import Runtime

PREVIEW_UID = "preview"  # the preview's links are signed for nobody
CACHE_SIZE = 32
FROZEN_STATUSES = ("sending", "paused", "sent")  # rendered once when sending started: show exactly that


@dataclass(frozen=True)
class Preview:
    html: str
    text: str
    warnings: tuple[str, ...]


class PreviewCache:
    """The last few previews rendered, by fingerprint (thread-safe; waitress serves from threads)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[str, Preview] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Preview | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, preview: Preview) -> None:
        with self._lock:
            self._entries[key] = preview
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def preview(runtime: Runtime, cache: PreviewCache, session: Session, edition_id: int) -> Preview:
    """The edition as subscribers would get it now (one that went out: as they got it). Raises EditionError
    (nothing left to send, a rendering error naming the template and line)."""
    edition = get_edition(session, edition_id)
    now = utcnow()
    if edition.html is not None and edition.status in FROZEN_STATUSES:
        return _personalised(runtime, edition.html or "", edition.text or "", edition.warnings)
    key = fingerprint(session, edition, now, runtime.config.site.timezone)
    found = cache.get(key)
    if found is None:
        try:
            freeze(runtime.config, edition, now, public=False)  # the send-time rules and trimming, rolled back
            found = _personalised(runtime, edition.html or "", edition.text or "", edition.warnings)
        finally:
            session.rollback()
        cache.put(key, found)
    return found


def fingerprint(session: Session, edition: Edition, now: datetime, timezone: str) -> str:
    ids = [entry.item_id for entry in edition.entries]
    sent_elsewhere = sorted(set(session.scalars(sent_item_ids().where(EditionItem.item_id.in_(ids)))))
    state = {
        "edition": [edition.id, edition.title, edition.subject, edition.preheader, edition.intro],
        "entries": [
            [e.item_id, e.section, e.position, e.item.status, e.item.featured, e.item.updated_at.isoformat()]
            for e in edition.entries
        ],
        "sections": [[row.key, row.title, row.position, row.layout] for row in edition.sections],
        "lapsed": [entry.item_id for entry in edition.entries if lapsed(entry.item, now)],
        "sent_elsewhere": sent_elsewhere,
        "day": now.astimezone(ZoneInfo(timezone)).date().isoformat(),
    }
    return hashlib.sha256(json.dumps(state, default=str).encode("utf-8")).hexdigest()


def _personalised(runtime: Runtime, rich: str, text: str, warnings: list[str] | None) -> Preview:
    links = site_links(runtime.config.site.base_url, runtime.secret_key)
    values = {
        "name": "reader",
        "unsubscribe_url": links.unsubscribe_url(PREVIEW_UID),
        "preferences_url": links.preferences_url(PREVIEW_UID),
    }
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    return Preview(personalise(rich, escaped), personalise(text, values), tuple(warnings or ()))
