"""Hand-made newsletters: the items editors choose, in the sections they name, with an optional
Markdown introduction. Without a choice, every approved item not sent yet, in the default sections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from digest.editions.arrange import apply_texts, file_sections, place_items
from digest.editions.core import (
    EditionError,
    default_sections,
    new_edition,
    refresh_generated_texts,
    unsent_approved_items,
)
from digest.items.queue import get_items
from digest.models import Edition, utcnow

SectionChoice = tuple[str, Sequence[int]]  # (section title, item ids in order)


def create_newsletter(
    session: Session,
    timezone: str,
    *,
    title: str | None = None,
    sections: Sequence[SectionChoice] | None = None,
    intro: str = "",
    subject: str | None = None,
    preheader: str | None = None,
    now: datetime | None = None,
) -> Edition:
    """A draft newsletter. ``sections`` lists (title, item ids) in reading order; an empty list makes
    an empty draft to fill later; None takes every approved item not sent yet."""
    now = now or utcnow()
    if sections is None:
        items = unsent_approved_items(session)
        if not items:
            raise EditionError("no approved items to put in an edition (approve some with `digest queue approve ID…`)")
        edition = new_edition(session, "newsletter", timezone, now, title)
        file_sections(edition, default_sections(items, now))
    else:
        edition = new_edition(session, "newsletter", timezone, now, title)
        for section, item_ids in sections:
            place_items(edition, get_items(session, list(item_ids)), section)
    session.flush()
    apply_texts(edition, subject=subject, preheader=preheader or None, intro=intro)
    refresh_generated_texts(edition)  # unless one was given: "In this issue: …", following the items
    return edition


def kind_sections(session: Session, item_ids: Sequence[int], now: datetime | None = None) -> list[SectionChoice]:
    """Chosen items in their kinds' default sections, in the order given (for create_newsletter)."""
    grouped = default_sections(get_items(session, list(item_ids)), now or utcnow(), sort=False)
    return [(title, [item.id for item in members]) for title, members in grouped]
