"""An edition's life as editors (and the scheduler) act on it: create, duplicate, schedule, unschedule,
hold back from automatic sending and release, cancel. Each function checks the edition's state, changes
it in the caller's transaction and writes its audit line. (Sending is digest.delivery.sending's;
arranging sections and items is digest.editions.arrange's.)"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from digest import audit
from digest.config import Config
from digest.editions.arrange import copy_sections, place_items
from digest.editions.assembly import Assembly, assemble_digest
from digest.editions.compose import check_rendering
from digest.editions.core import (
    EDITABLE_STATUSES,
    ITEM_STATUSES_FOR_EDITIONS,
    TEXT_MAX,
    EditionError,
    add_warnings,
    get_edition,
    item_titles,
    new_edition,
    sent_item_ids,
)
from digest.editions.newsletter import SectionChoice, create_newsletter
from digest.models import EDITION_TYPES, Edition, utcnow
from digest.rendering import dates

COPY_MARK = " (copy)"


def create_edition(
    session: Session,
    config: Config,
    actor: audit.Actor,
    edition_type: str,
    *,
    title: str | None = None,
    sections: list[SectionChoice] | None = None,
    intro: str = "",
    subject: str | None = None,
    preheader: str | None = None,
    now: datetime | None = None,
) -> Assembly:
    """A draft digest (this window's, by the assembly rules: ``edition`` is None when the window is empty,
    and what lapsed is marked expired all the same) or a newsletter (of ``sections``, by default every
    approved item not sent yet). The draft is rendered once to warn early."""
    timezone = config.site.timezone
    if edition_type == "digest":
        if sections is not None or intro or subject or preheader:
            raise EditionError("sections, an introduction, a subject and a preheader are for newsletters")
        made = assemble_digest(session, timezone, now=now, title=title)
    elif edition_type == "newsletter":
        texts = {"title": title, "intro": intro, "subject": subject, "preheader": preheader}
        edition = create_newsletter(session, timezone, sections=sections, now=now, **texts)
        chosen = [entry.item for entry in edition.entries]
        made = Assembly(edition, created=True, message=f"created newsletter {edition.id}", added=chosen)
    else:
        raise EditionError(f"unknown edition type {edition_type!r}; use one of {', '.join(EDITION_TYPES)}")
    if made.edition is not None:
        check_rendering(config, made.edition, now)
        detail = {"type": edition_type, "items": len(made.edition.entries), "message": made.message}
        audit.record(session, actor, "edition.created", "edition", made.edition.id, detail)
    return made


def duplicate(
    session: Session, config: Config, actor: audit.Actor, edition_id: int, now: datetime | None = None
) -> Edition:
    """A new draft of the same type with the same texts, sections and items, titled as a copy. Items that
    cannot go out again (sent by an edition, or no longer approved) are left out, with a warning."""
    now = now or utcnow()
    source = get_edition(session, edition_id)
    title = source.title[: TEXT_MAX - len(COPY_MARK)] + COPY_MARK
    copy = new_edition(session, source.type, config.site.timezone, now, title)
    copy.subject, copy.preheader, copy.intro = source.subject, source.preheader, source.intro
    copy.preheader_by_hand = source.preheader_by_hand
    copy.window_start, copy.window_end = source.window_start, source.window_end  # never its window key
    sent = set(session.scalars(sent_item_ids()))
    left_out = []
    copy_sections(source, copy)
    for entry in source.entries:
        if entry.item_id in sent or entry.item.status not in ITEM_STATUSES_FOR_EDITIONS:
            left_out.append(entry.item)
        else:
            place_items(copy, [entry.item], entry.section)
    if left_out:
        add_warnings(copy, [f"Left out of the copy, already sent or no longer approved: {item_titles(left_out)}"])
    session.flush()
    detail = {"from": source.id, "items": len(copy.entries), "left_out": [item.id for item in left_out]}
    audit.record(session, actor, "edition.duplicated", "edition", copy.id, detail)
    return copy


def schedule(
    session: Session,
    actor: audit.Actor,
    edition_id: int,
    at: datetime,
    *,
    timezone: str | None = None,
    now: datetime | None = None,
    by: str | None = None,
) -> Edition:
    """Send a draft (or move a scheduled edition) at ``at``, a time to come. ``timezone`` (the one the time
    was given in) and ``by`` (what scheduled it) go into the audit line."""
    edition = get_edition(session, edition_id)
    if edition.status not in EDITABLE_STATUSES:
        raise EditionError(f"edition {edition_id} is {edition.status}; only a draft can be scheduled")
    if at.tzinfo is None:
        raise EditionError("give the time with its offset, e.g. 2026-11-30T09:00:00+01:00")
    if at <= (now or utcnow()):
        # Said on the clock the time was given in (the site's): "5 Jan 2020, 09:00 CET", never UTC.
        raise EditionError(f"{dates.local_moment(at, timezone or 'UTC')} is in the past; schedule a time to come")
    edition.status = "scheduled"
    edition.scheduled_at = at
    extra = {"timezone": timezone, "by": by}
    detail = {"at": at.astimezone(UTC).isoformat()} | {key: value for key, value in extra.items() if value}
    audit.record(session, actor, "edition.scheduled", "edition", edition_id, detail)
    return edition


def unschedule(session: Session, actor: audit.Actor, edition_id: int) -> Edition:
    """Take a scheduled edition back to a draft (nothing is sent at its time)."""
    edition = get_edition(session, edition_id)
    if edition.status != "scheduled" or edition.scheduled_at is None:
        raise EditionError(f"edition {edition_id} is {edition.status}; only a scheduled edition can be unscheduled")
    was = edition.scheduled_at.isoformat()
    edition.status, edition.scheduled_at = "draft", None
    audit.record(session, actor, "edition.unscheduled", "edition", edition_id, {"was_at": was})
    return edition


def hold(session: Session, actor: audit.Actor, edition_id: int) -> Edition:
    """Hold an edition back from automatic sending: at its time it goes back to the editors as a draft."""
    edition = _holdable(session, edition_id)
    if edition.held:
        raise EditionError(f"edition {edition_id} is already held")
    edition.held = True
    audit.record(session, actor, "edition.held", "edition", edition_id)
    return edition


def release(session: Session, actor: audit.Actor, edition_id: int) -> Edition:
    """Let a held edition go out by itself again (at its scheduled time)."""
    edition = _holdable(session, edition_id)
    if not edition.held:
        raise EditionError(f"edition {edition_id} is not held; only a held edition can be released")
    edition.held = False
    audit.record(session, actor, "edition.unheld", "edition", edition_id)
    return edition


def _holdable(session: Session, edition_id: int) -> Edition:
    edition = get_edition(session, edition_id)
    if edition.status not in EDITABLE_STATUSES:
        raise EditionError(f"edition {edition_id} is {edition.status}; only a draft or scheduled edition can be held")
    return edition


def cancel(session: Session, actor: audit.Actor, edition_id: int) -> Edition:
    """Discard a draft, or cancel a scheduled edition (it stays readable; a digest gives its window up)."""
    edition = get_edition(session, edition_id)
    if edition.status not in EDITABLE_STATUSES:
        raise EditionError(
            f"edition {edition_id} is {edition.status}; only a draft or scheduled edition can be cancelled"
        )
    was = edition.status
    edition.status = "cancelled"
    edition.scheduled_at = None
    audit.record(session, actor, "edition.cancelled", "edition", edition_id, {"was": was})
    return edition


def restore(session: Session, actor: audit.Actor, edition_id: int) -> Edition:
    """Take a cancelled edition back to a draft, as it was. A digest that gave its window up to a newer
    digest keeps its dates but not the window: it says so, so that the same week is not sent twice."""
    edition = get_edition(session, edition_id)
    if edition.status != "cancelled":
        raise EditionError(f"edition {edition_id} is {edition.status}; only a cancelled edition can be restored")
    edition.status = "draft"
    if edition.type == "digest" and edition.window_key is None and edition.window_end is not None:
        add_warnings(edition, ["Restored after another digest took this week's window: check it is not sent twice."])
    audit.record(session, actor, "edition.restored", "edition", edition_id, {})
    return edition
