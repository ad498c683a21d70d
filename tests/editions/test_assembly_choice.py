"""Assembly chooses its items with queries now; these tests hold it to the rules it had as Python loops
over every approved unsent item (kept below as the reference): the same items in the same sections and
order, the same items marked expired, the same notes — for a first digest, for a window after a sent
digest, and for a draft brought up to date. On SQLite and on PostgreSQL (DIGEST_TEST_DATABASE_URL)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.editions.assembly import EVENT_HORIZON, Window, assemble_digest, digest_window
from digest.editions.core import default_sections, lapsed, left_out_notes, unsent_approved_items
from digest.editions.newsletter import create_newsletter
from digest.models import Item
from digest.runtime import Runtime
from tests.edition_helpers import DAY, MONDAY, WEEK, send
from tests.factories import make_item

TZ = "Europe/Brussels"
HOUR = timedelta(hours=1)


# --------------------------------------------------------------------------- the rules as they were


def reference_due(item: Item, window: Window, now: datetime) -> bool:
    arrived = window.holds(item.approved_at) or window.holds(item.published_at or item.collected_at)
    if item.kind != "event" or item.starts_at is None:
        return arrived
    if item.starts_at > now + EVENT_HORIZON:
        return False
    return arrived or window.holds(item.starts_at - EVENT_HORIZON)


def reference(session: Session, now: datetime, window: Window, present: set[int] = frozenset()) -> dict:
    """What the Python loops chose: read before assembling (which marks the lapsed items expired)."""
    candidates = unsent_approved_items(session)
    gone = [item for item in candidates if lapsed(item, now)]
    live = [item for item in candidates if not lapsed(item, now)]
    due = [item for item in live if item.id not in present and reference_due(item, window, now)]
    waiting = [i for i in live if i.kind == "event" and i.starts_at is not None and i.starts_at > now + EVENT_HORIZON]
    notes = left_out_notes(
        ("Left out, deadline passed (marked expired)", [item for item in gone if item.kind == "call"]),
        ("Left out, already ended (marked expired)", [item for item in gone if item.kind == "event"]),
        (f"Waiting for a later digest, starting over {EVENT_HORIZON.days} days from now", waiting),
    )
    layout = [(title, [item.id for item in items]) for title, items in default_sections(due, now)]
    return {"expired": sorted(item.id for item in gone), "layout": layout, "notes": notes}


# --------------------------------------------------------------------------- a varied queue


def varied_queue(session: Session, now: datetime, seed: int, count: int = 160) -> None:
    """Items on every side of every rule: approved, published or only collected in and out of the window,
    calls past, near and far from their deadline, events ended, running, near, crossing into the horizon
    and beyond it, featured ones, and pending and rejected ones that never count."""
    rng = random.Random(seed)
    for n in range(count):
        kind = rng.choice(("news", "event", "call", "achievement"))
        status = rng.choice(("approved",) * 6 + ("pending", "rejected"))
        ago = rng.choice((HOUR, DAY, 3 * DAY, WEEK + HOUR, 2 * WEEK, 9 * WEEK))
        approved = now - ago if rng.random() < 0.8 else None
        published = now - rng.choice((HOUR, 2 * DAY, 6 * DAY, 3 * WEEK)) if rng.random() < 0.6 else None
        collected = now - rng.choice((2 * HOUR, 4 * DAY, 2 * WEEK))
        fields: dict[str, object] = {"approved_at": approved, "published_at": published, "collected_at": collected,
                                     "featured": rng.random() < 0.15}  # fmt: skip
        if kind == "event":
            start = now + rng.choice((-3 * DAY, -HOUR, DAY, 20 * DAY, 58 * DAY, 61 * DAY, 63 * DAY, 120 * DAY))
            fields |= {"starts_at": start, "ends_at": start + rng.choice((2 * HOUR, 5 * DAY)) if rng.random() < 0.7
                       else None}  # fmt: skip
        if kind == "call":
            ahead = rng.choice((-DAY, -HOUR, 5 * DAY, 13 * DAY, 40 * DAY))
            fields["deadline"] = now + ahead if rng.random() < 0.9 else None
        make_item(session, f"Item {seed}-{n} about {kind}", kind=kind, status=status, **fields)


def chosen(session: Session, result, expired_before: frozenset[int] = frozenset()) -> dict:
    edition = result.require()
    layout: list[tuple[str, list[int]]] = []
    for entry in edition.entries:
        if not layout or layout[-1][0] != entry.section:
            layout.append((entry.section, []))
        layout[-1][1].append(entry.item_id)
    expired = sorted(set(session.scalars(select(Item.id).where(Item.status == "expired"))) - expired_before)
    return {"expired": expired, "layout": layout, "notes": list(edition.warnings or [])}


# --------------------------------------------------------------------------- the tests


def test_a_first_digest_chooses_what_the_loops_chose(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        varied_queue(session, MONDAY, seed=1)
        session.flush()
        expected = reference(session, MONDAY, digest_window(session, MONDAY))
        assert expected["layout"] and expected["expired"]  # the data exercises the rules
        assert chosen(session, assemble_digest(session, TZ, now=MONDAY)) == expected


def test_a_window_after_a_sent_digest_and_items_sent_elsewhere_choose_the_same(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        varied_queue(session, MONDAY - 2 * WEEK, seed=2, count=60)
        send(session, runtime.config, assemble_digest(session, TZ, now=MONDAY - WEEK).require(), MONDAY - WEEK)
        varied_queue(session, MONDAY, seed=3)
        elsewhere = session.scalars(select(Item).where(Item.status == "approved").order_by(Item.id).limit(5)).all()
        chosen_ids = [("News", [item.id for item in elsewhere])]
        newsletter = create_newsletter(session, TZ, sections=chosen_ids, now=MONDAY - DAY)
        send(session, runtime.config, newsletter, MONDAY - DAY)
        session.flush()
        window = digest_window(session, MONDAY)
        assert window.start is not None
        expected = reference(session, MONDAY, window)
        assert expected["layout"]
        before = frozenset(session.scalars(select(Item.id).where(Item.status == "expired")))
        result = chosen(session, assemble_digest(session, TZ, now=MONDAY), before)
        assert result == expected
        carried = {item_id for _title, ids in result["layout"] for item_id in ids}
        assert not carried & {item.id for item in elsewhere}


def test_a_draft_brought_up_to_date_adds_what_the_loops_added(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        varied_queue(session, MONDAY - DAY, seed=4, count=80)
        edition = assemble_digest(session, TZ, now=MONDAY - DAY).require()
        varied_queue(session, MONDAY, seed=5, count=80)
        session.flush()
        present = {entry.item_id for entry in edition.entries}
        expected = reference(session, MONDAY, Window(start=edition.window_end, end=MONDAY), present)
        expected_added = sorted(item_id for _title, ids in expected["layout"] for item_id in ids)
        again = assemble_digest(session, TZ, now=MONDAY)
        assert again.edition is edition and not again.created
        assert sorted(item.id for item in again.added) == expected_added and expected_added
        expired = set(session.scalars(select(Item.id).where(Item.status == "expired")))
        assert expired >= set(expected["expired"])
        assert not {entry.item_id for entry in edition.entries} & expired
