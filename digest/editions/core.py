"""Editions: what every edition shares (sections, titles, slugs), and finding and listing them. The weekly
digest is assembled in ``digest.editions.assembly``, newsletters are made in ``digest.editions.newsletter``,
a draft's sections are arranged with ``digest.editions.arrange``, and editors' actions on an edition
(create, duplicate, schedule, hold, cancel …) are ``digest.editions.lifecycle``'s."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from digest.errors import DigestError, required
from digest.models import DELIVERY_STATUSES, Delivery, Edition, EditionItem, Item
from digest.rendering.i18n import N_, translations

# N_: in the catalogs, so an email in another language words a default title still as it was (compose.py).
NEWS, EVENTS, CLOSING_SOON, OPEN_CALLS, ACHIEVEMENTS = (
    N_("News"),
    N_("Upcoming events"),
    N_("Closing soon"),
    N_("Open calls"),
    N_("Cluster achievements"),
)
SECTIONS = (NEWS, EVENTS, CLOSING_SOON, OPEN_CALLS, ACHIEVEMENTS)  # the default order
KIND_SECTIONS = {"news": NEWS, "event": EVENTS, "call": OPEN_CALLS, "achievement": ACHIEVEMENTS}
# The stable keys of the default sections: assembly files items by key, so a renamed section keeps them.
SECTION_KEYS = {
    NEWS: "news",
    EVENTS: "events",
    CLOSING_SOON: "closing-soon",
    OPEN_CALLS: "open-calls",
    ACHIEVEMENTS: "achievements",
}
# The weekly digest lists events and calls compactly (title, date or deadline, one link); the rest are cards.
DIGEST_LISTED_KEYS = ("events", "closing-soon", "open-calls")
CLOSING_SOON_WITHIN = timedelta(days=14)

EDITABLE_STATUSES = ("draft", "scheduled")
SENT_STATUSES = ("sending", "sent")  # a sending edition has gone out as far as items are concerned
ITEM_STATUSES_FOR_EDITIONS = ("approved", "published")  # a newsletter may bring back a sent item

TEXT_MAX = 300  # characters of an edition's title, subject or preheader
# What str.splitlines() breaks at; other control characters but the tab are refused too.
_LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")

_FAR_FUTURE = datetime.max.replace(tzinfo=ZoneInfo("UTC"))


class EditionError(DigestError):
    """An edition operation that cannot be done, worded for the editor."""


def one_line(name: str, value: str, required: bool = False) -> str:
    """A title, subject or preheader: one line (they end up in mail headers), spaces folded."""
    if _LINE_BREAKS.search(value):
        raise EditionError(f"the {name} must be a single line: remove its line breaks")
    control = _CONTROL.search(value)
    if control:
        raise EditionError(f"the {name} contains a control character (U+{ord(control.group()):04X}): remove it")
    cleaned = " ".join(value.split())
    if required and not cleaned:
        raise EditionError(f"the {name} cannot be empty")
    if len(cleaned) > TEXT_MAX:
        raise EditionError(f"the {name} has at most {TEXT_MAX} characters (it has {len(cleaned)})")
    return cleaned


def new_edition(session: Session, edition_type: str, timezone: str, now: datetime, title: str | None = None) -> Edition:
    """An empty draft with its title, subject and a unique slug (added to the session)."""
    local_day = now.astimezone(ZoneInfo(timezone)).date()
    label = "Weekly digest" if edition_type == "digest" else "Newsletter"
    title = one_line("title", title or "") or f"{label} — {local_day.day} {local_day:%B %Y}"
    edition = Edition(
        type=edition_type,
        title=title,
        subject=title,
        preheader="",
        intro="",
        slug=unique_slug(session, f"{edition_type}-{local_day.isoformat()}"),
        status="draft",
        created_at=now,
        warnings=[],
    )
    session.add(edition)
    return edition


def sent_item_ids() -> Select[tuple[int]]:
    """The ids of items a sending or sent edition carries."""
    return (
        select(EditionItem.item_id)
        .join(Edition, Edition.id == EditionItem.edition_id)
        .where(Edition.status.in_(SENT_STATUSES))
    )


@dataclass(frozen=True)
class LeftOut:
    """An item of an unsent edition that will not go out with it, and why."""

    item: Item
    reason: str  # "sent elsewhere" | "lapsed"
    detail: str  # for the editor: which edition sent it and when, or what passed


def left_out_at_send(session: Session, edition: Edition, now: datetime) -> dict[int, LeftOut]:
    """What sending this edition now would leave out, by item id: items another edition has sent since
    they were added, and calls or events that have lapsed. The compose page and the send confirmation
    show exactly this, so that what the editor sees is what goes."""
    if edition.status not in EDITABLE_STATUSES or not edition.entries:
        return {}
    carried = [entry.item_id for entry in edition.entries]
    senders = session.execute(
        select(EditionItem.item_id, Edition.title, Edition.sent_at)
        .join(Edition, Edition.id == EditionItem.edition_id)
        .where(Edition.status.in_(SENT_STATUSES), EditionItem.item_id.in_(carried), Edition.id != edition.id)
    )
    left_out: dict[int, LeftOut] = {}
    by_id = {entry.item_id: entry.item for entry in edition.entries}
    for item_id, title, sent_at in senders:
        when = f" on {sent_at:%d %b %Y}" if sent_at else ""
        left_out[item_id] = LeftOut(by_id[item_id], "sent elsewhere", f"sent by “{title}”{when}")
    for item in by_id.values():
        if item.id not in left_out and lapsed(item, now):
            what = "its deadline has passed" if item.kind == "call" else "it has ended"
            left_out[item.id] = LeftOut(item, "lapsed", what)
    return left_out


def unsent_approved_items(session: Session) -> list[Item]:
    query = select(Item).where(Item.status == "approved", Item.id.not_in(sent_item_ids())).order_by(Item.id)
    return list(session.scalars(query))


def lapsed(item: Item, now: datetime) -> bool:
    """A call whose deadline has passed, or an event that has ended: it never goes out again."""
    if item.kind == "call":
        return item.deadline is not None and item.deadline < now
    if item.kind == "event" and item.starts_at is not None:
        return (item.ends_at or item.starts_at) < now
    return False


def section_for(item: Item, now: datetime) -> str:
    """The default section of an item: calls closing within 14 days go to "Closing soon"."""
    if item.kind == "call" and item.deadline is not None and item.deadline - now <= CLOSING_SOON_WITHIN:
        return CLOSING_SOON
    return KIND_SECTIONS[item.kind]


def section_order(title: str) -> Callable[[Item], Any]:
    """How a default section sorts: events by start, calls by deadline, the rest featured first, newest first."""
    if title == EVENTS:
        return lambda item: (item.starts_at or _FAR_FUTURE, item.id)
    if title in (CLOSING_SOON, OPEN_CALLS):
        return lambda item: (item.deadline or _FAR_FUTURE, item.id)
    return lambda item: (not item.featured, -(item.published_at or item.collected_at).timestamp(), item.id)


def default_layout(edition_type: str, key: str) -> str:
    """The layout a new section starts with: the choice is stored with the edition from then on."""
    return "list" if edition_type == "digest" and key in DIGEST_LISTED_KEYS else "cards"


def default_sections(items: Iterable[Item], now: datetime, sort: bool = True) -> list[tuple[str, list[Item]]]:
    """Items grouped into the default sections (empty ones left out), each sorted its own way, or
    in the order given when ``sort`` is False."""
    grouped: dict[str, list[Item]] = {title: [] for title in SECTIONS}
    for item in items:
        grouped[section_for(item, now)].append(item)
    return [
        (title, sorted(members, key=section_order(title)) if sort else members)
        for title, members in grouped.items()
        if members
    ]


def entries_for(layout: Sequence[tuple[str, Sequence[Item]]]) -> list[EditionItem]:
    entries: list[EditionItem] = []
    for section, items in layout:
        for item in items:
            entries.append(EditionItem(item=item, item_id=item.id, section=section, position=len(entries)))
    return entries


KIND_ORDER = ("news", "event", "call", "achievement")  # in a preheader's counts


def _kind_count(kind: str, number: int, language: str) -> str:
    """ "3 news items", "1 event", in `language` (the calls are literal so that `pybabel extract` finds them)."""
    words = translations(language)
    if kind == "news":
        text = words.ngettext("%(num)d news item", "%(num)d news items", number)
    elif kind == "event":
        text = words.ngettext("%(num)d event", "%(num)d events", number)
    elif kind == "call":
        text = words.ngettext("%(num)d open call", "%(num)d open calls", number)
    else:
        text = words.ngettext("%(num)d achievement", "%(num)d achievements", number)
    return text % {"num": number}


def counts_preheader(items: Sequence[Item], digest: bool = True, language: str = "en") -> str:
    """ "This week: 3 news items, 2 events, 1 open call" (the preview line mail clients show); a newsletter's
    starts "In this issue"."""
    numbers = [(kind, sum(1 for item in items if item.kind == kind)) for kind in KIND_ORDER]
    counts = ", ".join(_kind_count(kind, number, language) for kind, number in numbers if number)
    if not counts:
        return ""
    words = translations(language)
    lead = words.gettext("This week: %(counts)s") if digest else words.gettext("In this issue: %(counts)s")
    return lead % {"counts": counts}


def generated_preheader(edition: Edition, language: str = "en") -> str:
    """The preheader made from what the edition carries now, in `language`."""
    return counts_preheader([entry.item for entry in edition.entries], edition.type == "digest", language)


def refresh_generated_texts(edition: Edition) -> None:
    """After any change of the items: a generated preheader follows them (a hand-written one stays)."""
    if not edition.preheader_by_hand:
        edition.preheader = generated_preheader(edition)


def add_warnings(edition: Edition, warnings: Iterable[str]) -> None:
    """Add warnings for the editors, each once, after those the edition has."""
    edition.warnings = list(dict.fromkeys([*(edition.warnings or []), *warnings]))


def item_titles(items: Sequence[Item], shown: int = 3) -> str:
    """“First”, “Second”, “Third” and 2 more: items named in a warning."""
    named = [f"“{item.title}”" for item in items[:shown]]
    more = len(items) - len(named)
    return ", ".join(named) + (f" and {more} more" if more else "")


def left_out_notes(*groups: tuple[str, Sequence[Item]]) -> list[str]:
    """A warning for each (why, items) group that has items: "<why>: “First”, “Second”…"."""
    return [f"{why}: {item_titles(items)}" for why, items in groups if items]


def unique_slug(session: Session, base: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    taken = set(session.scalars(select(Edition.slug).where(Edition.slug.like(f"{base}%"))))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def get_edition(session: Session, edition_id: int) -> Edition:
    loading = [selectinload(Edition.entries).selectinload(EditionItem.item), selectinload(Edition.sections)]
    edition = session.get(Edition, edition_id, options=loading)
    return required(edition, EditionError, f"no edition with id {edition_id} (see `digest edition list`)")


def editable_edition(session: Session, edition_id: int) -> Edition:
    """An edition whose contents may still change: once sending starts, sections and order are frozen."""
    edition = get_edition(session, edition_id)
    if edition.status not in EDITABLE_STATUSES:
        raise EditionError(
            f"edition {edition_id} is {edition.status}; its sections and order are frozen "
            "(only a draft or scheduled edition can change)"
        )
    return edition


def list_editions(session: Session) -> list[Edition]:
    query = (
        select(Edition).options(selectinload(Edition.entries)).order_by(Edition.created_at.desc(), Edition.id.desc())
    )
    return list(session.scalars(query))


def delivery_counts(session: Session, edition_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per edition, how many deliveries are in each status (every status present, zero or not), plus
    ``complained``. A message the server took that hard-bounced later counts as bounced, not sent; one
    whose reader complained stays sent and is also counted in ``complained``."""
    counts = {edition_id: dict.fromkeys((*DELIVERY_STATUSES, "complained"), 0) for edition_id in edition_ids}
    if not edition_ids:
        return counts
    rows = session.execute(
        select(Delivery.edition_id, Delivery.status, Delivery.feedback, func.count())
        .where(Delivery.edition_id.in_(edition_ids))
        .group_by(Delivery.edition_id, Delivery.status, Delivery.feedback)
    )
    for edition_id, status, feedback, number in rows:
        bounced_later = status == "sent" and feedback == "hard"
        counts[edition_id]["bounced" if bounced_later else status] += number
        if status == "sent" and feedback == "complaint":
            counts[edition_id]["complained"] += number
    return counts
