"""The editorial queue: list items and move them through their statuses."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, selectinload

from digest import audit
from digest.config import Config
from digest.errors import DigestError
from digest.models import ITEM_KINDS, ITEM_STATUSES, Item, utcnow
from digest.submissions.notices import tell_submitters_after_commit

# Which statuses an editor's decision may move an item from.
DECISIONS = {
    "approved": ("pending", "rejected"),
    "rejected": ("pending", "approved"),
}


SORTS = {"auto": "Each kind its own way", "newest": "Newest first", "oldest": "Oldest first"}
ORDER_HELP = (
    "auto (the default): with one kind, events by start, calls by deadline, news and achievements newest first; "
    "with every kind, what arrived last first, and the items that arrived together (one collection) by kind, "
    "each kind its own way. newest / oldest: by arrival."
)


class QueueError(DigestError):
    """An editorial action that cannot be done, worded for the editor."""


def queue_order(kind: str | None, sort: str = "auto") -> list[ColumnElement]:
    """The ORDER BY of the queue, the same for the editors' page and `digest queue list` (see ORDER_HELP)."""
    if sort == "newest":
        return [Item.collected_at.desc(), Item.id.desc()]
    if sort == "oldest":
        return [Item.collected_at.asc(), Item.id.asc()]
    if kind == "event":
        return [Item.starts_at.asc().nulls_last(), Item.id.asc()]
    if kind == "call":
        return [Item.deadline.asc().nulls_last(), Item.id.asc()]
    if kind in ("news", "achievement"):
        return [func.coalesce(Item.published_at, Item.collected_at).desc(), Item.id.desc()]
    # Every kind: a collection stores its items with one time, so within it each kind sorts its own way.
    return [
        Item.collected_at.desc(),
        case({name: rank for rank, name in enumerate(ITEM_KINDS)}, value=Item.kind),
        case((Item.kind == "event", Item.starts_at)).asc().nulls_last(),
        case((Item.kind == "call", Item.deadline)).asc().nulls_last(),
        func.coalesce(Item.published_at, Item.collected_at).desc(),
        Item.id.desc(),
    ]


def list_items(session: Session, status: str | None = None, kind: str | None = None, sort: str = "auto") -> list[Item]:
    """The queue as `digest queue list` shows it: in the editors' page's order (``queue_order``)."""
    if status is not None and status not in ITEM_STATUSES:
        raise QueueError(f"unknown status {status!r}; use one of {', '.join(ITEM_STATUSES)}")
    if kind is not None and kind not in ITEM_KINDS:
        raise QueueError(f"unknown kind {kind!r}; use one of {', '.join(ITEM_KINDS)}")
    if sort not in SORTS:
        raise QueueError(f"unknown order {sort!r}; use one of {', '.join(SORTS)}")
    query = select(Item).options(selectinload(Item.source)).order_by(*queue_order(kind, sort))
    if status:
        query = query.where(Item.status == status)
    if kind:
        query = query.where(Item.kind == kind)
    return list(session.scalars(query))


def get_items(session: Session, ids: Sequence[int]) -> list[Item]:
    items = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(ids)))}
    missing = [str(item_id) for item_id in ids if item_id not in items]
    if missing:
        raise QueueError(f"no item with id {', '.join(missing)} (see `digest queue list`)")
    return [items[item_id] for item_id in ids]


def decide(
    session: Session,
    actor: audit.Actor,
    ids: Sequence[int],
    status: str,
    note: str | None = None,
    notify: Config | None = None,
) -> list[Item]:
    """Approve or reject items, one audit line each; all or nothing, so a wrong id changes no item.

    With `notify` (the configuration of the app or command doing it), the submitters of the items are
    emailed the decision once the transaction commits (never when it is rolled back)."""
    items = get_items(session, ids)
    allowed_from = DECISIONS[status]
    for item in items:
        if item.status == status:
            continue
        if item.status not in allowed_from:
            raise QueueError(f"item {item.id} is {item.status}; it can no longer be {status}")
        item.status = status
        item.approved_at = utcnow() if status == "approved" else None
        if note is not None:
            item.editor_note = note
    for item in items:
        audit.record(session, actor, f"item.{status}", "item", item.id, {"note": note} if note else {})
    if notify is not None:
        tell_submitters_after_commit(session, notify)
    return items


def feature(session: Session, actor: audit.Actor, ids: Sequence[int], featured: bool = True) -> list[Item]:
    """Mark items as featured (they lead their section), or take the mark off."""
    items = get_items(session, ids)
    for item in items:
        item.featured = featured
        audit.record(session, actor, "item.featured" if featured else "item.unfeatured", "item", item.id)
    return items
