"""Arrange an edition that has not gone out yet: its sections, the items in them, their order, and its
texts. This is the small interface the editors' app calls (the weekly assembly uses it too).

Every function refuses an edition that is sending or sent (its order is frozen then) and leaves the
positions numbered 0…n-1 in reading order. A section is an ``EditionSection``: a stable key (assembly
files new items by it, so renaming a section keeps them together), the title readers see, its place and
its layout (``cards`` or ``list``). It outlives its items: emptied, it keeps its title and layout for
the items assembly may file into it later. An entry names its section by title (kept in step on rename).
The editors' actions (those taking an ``actor``) write their audit line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from digest import audit
from digest.editions.core import (
    ITEM_STATUSES_FOR_EDITIONS,
    SECTION_KEYS,
    EditionError,
    default_layout,
    editable_edition,
    entries_for,
    generated_preheader,
    one_line,
    refresh_generated_texts,
    section_order,
)
from digest.items.queue import get_items
from digest.models import SECTION_LAYOUTS, Edition, EditionItem, EditionSection, Item

Layout = list[tuple[str, list[EditionItem]]]

SECTION_TITLE_MAX = 100
SECTION_KEY_MAX = 40
TEXTS = ("title", "subject", "preheader", "intro")
_DEFAULT_RANK = {key: rank for rank, key in enumerate(SECTION_KEYS.values())}


@dataclass(frozen=True)
class Section:
    """A section as pages and the renderer see it: empty ones included (they are not rendered)."""

    title: str
    key: str
    layout: str
    entries: list[EditionItem]


def layout(edition: Edition) -> Layout:
    """The edition's sections that hold items, in reading order, each with its entries in order."""
    grouped: dict[str, list[EditionItem]] = {}
    for entry in sorted(edition.entries, key=lambda entry: entry.position):
        grouped.setdefault(entry.section, []).append(entry)
    return list(grouped.items())


def sections_of(edition: Edition) -> list[Section]:
    """Every section of the edition in reading order, with its key, layout and entries (maybe none)."""
    grouped = dict(layout(edition))
    found = [
        Section(row.title, row.key, row.layout, grouped.pop(row.title, []))
        for row in sorted(edition.sections, key=lambda row: row.position)
    ]
    # Entries made without their section row (older code paths, fixtures): their title's defaults.
    for title, members in grouped.items():
        key = SECTION_KEYS.get(title, _slug(title))
        found.append(Section(title, key, default_layout(edition.type, key), members))
    return found


def add_items(
    session: Session,
    actor: audit.Actor,
    edition_id: int,
    item_ids: Sequence[int],
    section: str,
    position: int | None = None,
) -> Edition:
    """Put items into a section (made if new, at the end) at ``position`` (0 = first; default: last)."""
    edition = editable_edition(session, edition_id)
    if not item_ids:
        raise EditionError("choose the items to add")
    place_items(edition, get_items(session, item_ids), section, position)
    _changed(session, actor, edition, "edition.items_added", items=list(item_ids), section=section_title(section))
    return edition


def place_items(edition: Edition, items: Sequence[Item], section: str, position: int | None = None) -> None:
    title = section_title(section)
    _check_addable(edition, items)
    sections = layout(edition)
    members = _section(edition, sections, title)
    at = len(members) if position is None else _within(position, len(members))
    members[at:at] = [EditionItem(item=item, item_id=item.id, section=title, position=0) for item in items]
    _store(edition, sections)


def file_sections(edition: Edition, grouped: Sequence[tuple[str, Sequence[Item]]]) -> None:
    """A new edition's items in these sections, in order (each section made with its key and default layout)."""
    edition.entries = entries_for(grouped)
    _order_rows(edition, [title for title, _ in grouped])


def copy_sections(source: Edition, copy: Edition) -> None:
    """The source's sections (titles, keys, order, layouts) in a new edition, before its items go in."""
    for section in sections_of(source):
        row = EditionSection(title=section.title, key=section.key, layout=section.layout, position=len(copy.sections))
        copy.sections.append(row)


def insert_in_order(edition: Edition, item: Item, section: str) -> None:
    """Put one item where the section's default order wants it, keeping the order editors gave the rest;
    a default section that does not exist yet is made in its default place."""
    _check_addable(edition, [item])
    sections = layout(edition)
    title = _title_for_key(edition, section)
    members = _section(edition, sections, title, default_place=True)
    key = section_order(section)
    at = next((index for index, entry in enumerate(members) if key(entry.item) > key(item)), len(members))
    members.insert(at, EditionItem(item=item, item_id=item.id, section=title, position=0))
    _store(edition, sections)


def remove_items(session: Session, actor: audit.Actor, edition_id: int, item_ids: Sequence[int]) -> Edition:
    """Take items out (they stay approved, for another edition)."""
    edition = editable_edition(session, edition_id)
    missing = sorted(set(item_ids) - {entry.item_id for entry in edition.entries})
    if missing:
        raise EditionError(f"edition {edition_id} does not carry item {', '.join(map(str, missing))}")
    sections = [(title, [e for e in members if e.item_id not in item_ids]) for title, members in layout(edition)]
    _store(edition, sections)
    for item_id in item_ids:
        _changed(session, actor, edition, "edition.item_removed", item=item_id)
    return edition


def move_item(
    session: Session, actor: audit.Actor, edition_id: int, item_id: int, position: int, section: str | None = None
) -> Edition:
    """Move an item to ``position`` (0 = first) of ``section`` (default: the section it is in)."""
    edition = editable_edition(session, edition_id)
    sections = layout(edition)
    entry = _entry(edition, sections, item_id)
    target = section_title(section) if section is not None else entry.section
    for _, members in sections:
        if entry in members:
            members.remove(entry)
    members = _section(edition, sections, target)
    members.insert(_within(position, len(members)), entry)
    _store(edition, sections)
    _changed(session, actor, edition, "edition.item_moved", item=item_id, section=target, position=position)
    return edition


def step_item(session: Session, actor: audit.Actor, edition_id: int, item_id: int, direction: str) -> Edition:
    """Move an item one place ``up`` or ``down`` its section."""
    edition = editable_edition(session, edition_id)
    entry = _entry(edition, layout(edition), item_id)
    index = [e.item_id for e in dict(layout(edition))[entry.section]].index(item_id)
    position = max(0, index - 1) if _direction(direction) == "up" else index + 1
    return move_item(session, actor, edition_id, item_id, position, entry.section)


def order_sections(session: Session, actor: audit.Actor, edition_id: int, titles: Sequence[str]) -> Edition:
    """Put the sections in this order: every section that holds items named once (empty ones may be
    named too; those left out keep their place after the section they followed)."""
    edition = editable_edition(session, edition_id)
    sections = dict(layout(edition))
    known = {section.title for section in sections_of(edition)}
    if len(set(titles)) != len(titles) or not set(sections) <= set(titles) or not set(titles) <= known:
        raise EditionError(f"name every section of edition {edition_id} once: {', '.join(sections)}")
    _store(edition, [(title, sections.get(title, [])) for title in titles])
    _changed(session, actor, edition, "edition.sections_ordered", order=list(titles))
    return edition


def step_section(session: Session, actor: audit.Actor, edition_id: int, title: str, direction: str) -> Edition:
    """Move a section one place ``up`` or ``down`` (the first stays first, the last last)."""
    titles = [section.title for section in sections_of(editable_edition(session, edition_id))]
    if title not in titles:
        raise EditionError(f"edition {edition_id} has no section {title!r}")
    index = titles.index(title)
    target = index - 1 if _direction(direction) == "up" else index + 1
    if 0 <= target < len(titles):
        titles[index], titles[target] = titles[target], titles[index]
    return order_sections(session, actor, edition_id, titles)


def rename_section(session: Session, actor: audit.Actor, edition_id: int, title: str, new_title: str) -> Edition:
    """Give a section a new title. It keeps its key, so assembly files new items into it still, and it
    can take its old title back."""
    edition = editable_edition(session, edition_id)
    new_title = section_title(new_title)
    row = _existing_row(edition, title)
    if new_title != title and _row_titled(edition, new_title) is not None:
        raise EditionError(f"edition {edition_id} already has a section {new_title!r}; move the items instead")
    row.title = new_title
    for entry in edition.entries:
        if entry.section == title:
            entry.section = new_title
    _changed(session, actor, edition, "edition.section_renamed", title=title, new_title=new_title, key=row.key)
    return edition


def set_section_layout(session: Session, actor: audit.Actor, edition_id: int, title: str, chosen: str) -> bool:
    """Show a section's items as ``cards`` or as a compact ``list``; the choice goes out with the edition.
    Returns whether it changed (no change, no audit line)."""
    if chosen not in SECTION_LAYOUTS:
        raise EditionError(f"a section's layout is one of {', '.join(SECTION_LAYOUTS)}, not {chosen!r}")
    edition = editable_edition(session, edition_id)
    row = _existing_row(edition, title)
    if row.layout == chosen:
        return False
    was, row.layout = row.layout, chosen
    _changed(session, actor, edition, "edition.section_layout", section=title, key=row.key, layout=chosen, was=was)
    return True


def set_texts(
    session: Session,
    actor: audit.Actor,
    edition_id: int,
    *,
    title: str | None = None,
    subject: str | None = None,
    preheader: str | None = None,
    intro: str | None = None,
) -> list[str]:
    """Change the title, subject line, preheader (preview text) or Markdown introduction; None keeps one.
    Returns the names of the texts that changed (the audit line names them; no change, no line)."""
    edition = editable_edition(session, edition_id)
    before = {name: getattr(edition, name) for name in TEXTS}
    apply_texts(edition, title=title, subject=subject, preheader=preheader, intro=intro)
    changed = [name for name, value in before.items() if getattr(edition, name) != value]
    if changed:
        _changed(session, actor, edition, "edition.texts_changed", fields=changed)
    return changed


def apply_texts(
    edition: Edition,
    *,
    title: str | None = None,
    subject: str | None = None,
    preheader: str | None = None,
    intro: str | None = None,
) -> None:
    """set_texts' checks and changes on an edition being made (no audit line: its creation has one)."""
    if title is not None:
        edition.title = _line("title", title, required=True)
    if subject is not None:
        edition.subject = _line("subject", subject, required=True)
    if preheader is not None:
        _set_preheader(edition, _line("preheader", preheader))
    if intro is not None:
        edition.intro = intro.strip()


def _set_preheader(edition: Edition, preheader: str) -> None:
    """An empty preheader means "generate it again"; a different one is the editor's own from now on."""
    if not preheader:
        edition.preheader_by_hand = False
        edition.preheader = generated_preheader(edition)
    elif preheader != edition.preheader:
        edition.preheader_by_hand = True
        edition.preheader = preheader


def section_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned:
        raise EditionError("a section needs a title")
    if len(cleaned) > SECTION_TITLE_MAX:
        raise EditionError(f"a section title has at most {SECTION_TITLE_MAX} characters")
    return cleaned


def _line(name: str, value: str, required: bool = False) -> str:
    return one_line(name, value, required)


def _check_addable(edition: Edition, items: Sequence[Item]) -> None:
    present = {entry.item_id for entry in edition.entries}
    seen: set[int] = set()
    for item in items:
        if item.status not in ITEM_STATUSES_FOR_EDITIONS:
            raise EditionError(f"item {item.id} is {item.status}; only approved (or already sent) items go out")
        if item.id in present or item.id in seen:
            raise EditionError(f"item {item.id} is already in edition {edition.id or 'being made'}")
        seen.add(item.id)


def _section(edition: Edition, sections: Layout, title: str, default_place: bool = False) -> list[EditionItem]:
    """The entries of a section, made (at the end, or where a default section goes) when missing."""
    for name, members in sections:
        if name == title:
            return members
    index = len(sections)
    rank = _rank(edition, title)
    if default_place and rank is not None:
        ranks = [_rank(edition, name) for name, _ in sections]
        later = [i for i, other in enumerate(ranks) if other is not None and other > rank]
        index = later[0] if later else len(sections)
    members: list[EditionItem] = []
    sections.insert(index, (title, members))
    return members


def _rank(edition: Edition, title: str) -> int | None:
    """Where a default section goes among the others (None: not a default section)."""
    row = _row_titled(edition, title)
    return _DEFAULT_RANK.get(row.key if row is not None else SECTION_KEYS.get(title, ""))


def _title_for_key(edition: Edition, default_title: str) -> str:
    """The title of the section a default section's items go to: its row's, however renamed; a new
    row (with the default title, or a numbered one if another section took it) when there is none."""
    key = SECTION_KEYS[default_title]
    row = next((row for row in edition.sections if row.key == key), None)
    if row is None:
        title, number = default_title, 2
        while _row_titled(edition, title) is not None or any(e.section == title for e in edition.entries):
            title, number = f"{default_title} ({number})", number + 1
        row = _add_row(edition, title, key)
    return row.title


def _row_titled(edition: Edition, title: str) -> EditionSection | None:
    return next((row for row in edition.sections if row.title == title), None)


def _existing_row(edition: Edition, title: str) -> EditionSection:
    """The row of a section the edition has (made for entries that were filed without one)."""
    row = _row_titled(edition, title)
    if row is None and any(entry.section == title for entry in edition.entries):
        row = _add_row(edition, title)
    if row is None:
        raise EditionError(f"edition {edition.id} has no section {title!r}")
    return row


def _add_row(edition: Edition, title: str, key: str | None = None) -> EditionSection:
    taken = {row.key for row in edition.sections}
    if key is None:
        base = SECTION_KEYS.get(title) or _slug(title)
        key, number = base, 2
        while key in taken:
            key, number = f"{base}-{number}", number + 1
    row = EditionSection(title=title, key=key, position=len(edition.sections), layout=default_layout(edition.type, key))
    edition.sections.append(row)
    return row


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[: SECTION_KEY_MAX - 4] or "section"


def _entry(edition: Edition, sections: Layout, item_id: int) -> EditionItem:
    entry = next((e for _, members in sections for e in members if e.item_id == item_id), None)
    if entry is None:
        raise EditionError(f"edition {edition.id} does not carry item {item_id}")
    return entry


def _direction(direction: str) -> str:
    if direction not in ("up", "down"):
        raise EditionError(f"move up or down, not {direction!r}")
    return direction


def _changed(session: Session, actor: audit.Actor, edition: Edition, action: str, **detail: object) -> None:
    refresh_generated_texts(edition)
    audit.record(session, actor, action, "edition", edition.id, detail)


def _within(position: int, size: int) -> int:
    return max(0, min(position, size))


def _store(edition: Edition, sections: Layout) -> None:
    entries: list[EditionItem] = []
    for title, members in sections:
        for entry in members:
            entry.section, entry.position = title, len(entries)
            entries.append(entry)
    edition.entries = entries  # entries left out are deleted
    _order_rows(edition, [title for title, _ in sections])


def _order_rows(edition: Edition, titles: list[str]) -> None:
    """Section rows in the order given; rows not named (emptied sections) stay after the row they followed."""
    before = sorted(edition.sections, key=lambda row: row.position)
    order = [_row_titled(edition, title) or _add_row(edition, title) for title in titles]
    for index, row in enumerate(before):
        if row in order:
            continue
        anchor = next((earlier for earlier in reversed(before[:index]) if earlier in order), None)
        order.insert(order.index(anchor) + 1 if anchor is not None else 0, row)
    for position, row in enumerate(order):
        row.position = position
    edition.sections = order
