"""The editors' app under /editor/: accounts, the queue and items, editions (compose, preview, test,
schedule, send, progress), sources, subscribers, editors' accounts and the audit trail.

One blueprint (``editor``); each module adds the pages of one concept to it. Every page needs a
login (``login_required``); managing editors, sources and subscribers, and sending to everyone,
need an admin (``admin_required``).
"""

from __future__ import annotations

from digest.web.editor import (  # noqa: F401 - each module registers its pages
    account_pages,
    audit_page,
    edition_compose,
    edition_list,
    edition_preview,
    edition_sending,
    item_pages,
    queue_pages,
    source_pages,
    subscriber_pages,
    template_helpers,
)
from digest.web.editor.auth import admin_required, login_required
from digest.web.editor.blueprint import blueprint

__all__ = ["admin_required", "blueprint", "login_required"]
