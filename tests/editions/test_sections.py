"""Sections have identity (issue 15, finding 3): a renamed section keeps receiving its kind of items at
re-assembly and can take its old name back. Each section has a layout, cards or a compact list (issue 14,
point 8), switched from the editors' app and the command line alike, with an audit line, and frozen once
the edition has gone out."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.audit import SYSTEM
from digest.editions.arrange import layout, remove_items, rename_section, sections_of, set_section_layout
from digest.editions.assembly import assemble_digest
from digest.editions.core import EditionError, get_edition
from digest.models import AuditEntry
from digest.runtime import Runtime
from tests.cli import digest, digest_json
from tests.edition_helpers import DAY, MONDAY, item_at, send
from tests.editor_helpers import ADMIN, add_accounts, desk, make_app
from tests.factories import make_subscribers

ZONE = "Europe/Brussels"


def titles(runtime: Runtime, edition_id: int) -> dict[str, list[str]]:
    with runtime.sessions() as session:
        return {title: [e.item.title for e in entries] for title, entries in layout(get_edition(session, edition_id))}


def layouts(runtime: Runtime, edition_id: int) -> dict[str, str]:
    with runtime.sessions() as session:
        return {section.title: section.layout for section in sections_of(get_edition(session, edition_id))}


def week_digest(runtime: Runtime) -> int:
    """A digest with news, an event, a call and an achievement, assembled on Monday."""
    with runtime.sessions() as session, session.begin():
        item_at(session, "Hydrogen valley opens", MONDAY - DAY)
        item_at(session, "Matchmaking in Porto", MONDAY - DAY, kind="event", starts_at=MONDAY + 10 * DAY)
        item_at(session, "Call for cluster labs", MONDAY - DAY, kind="call", deadline=MONDAY + 40 * DAY)
        item_at(session, "Textile cluster wins award", MONDAY - DAY, kind="achievement")
        return assemble_digest(session, ZONE, now=MONDAY).require().id


def assemble_again(runtime: Runtime, title: str, kind: str, at: timedelta) -> None:
    """A new item of ``kind`` approved after the first assembly, then the weekly assembly again."""
    with runtime.sessions() as session, session.begin():
        item_at(session, title, MONDAY + at - timedelta(hours=1), kind=kind)
        assemble_digest(session, ZONE, now=MONDAY + at)


def test_a_renamed_section_keeps_receiving_its_items_at_reassembly(runtime: Runtime) -> None:
    edition_id = week_digest(runtime)
    with runtime.sessions() as session, session.begin():
        rename_section(session, SYSTEM, edition_id, "Cluster achievements", "Achievements")

    assemble_again(runtime, "Photonics cluster reaches 100 members", "achievement", timedelta(hours=3))

    found = titles(runtime, edition_id)
    assert "Cluster achievements" not in found
    assert found["Achievements"] == ["Photonics cluster reaches 100 members", "Textile cluster wins award"]


def test_a_renamed_section_can_take_its_old_name_back(runtime: Runtime) -> None:
    edition_id = week_digest(runtime)
    with runtime.sessions() as session, session.begin():
        rename_section(session, SYSTEM, edition_id, "Cluster achievements", "Achievements")
    assemble_again(runtime, "Photonics cluster reaches 100 members", "achievement", timedelta(hours=3))
    with runtime.sessions() as session, session.begin():
        rename_section(session, SYSTEM, edition_id, "Achievements", "Cluster achievements")
    assemble_again(runtime, "Maritime cluster opens a lab", "achievement", timedelta(hours=6))

    found = titles(runtime, edition_id)
    assert list(found) == ["News", "Upcoming events", "Open calls", "Cluster achievements"]
    assert len(found["Cluster achievements"]) == 3


def test_an_emptied_renamed_section_keeps_its_name_and_layout_for_the_next_items(runtime: Runtime) -> None:
    edition_id = week_digest(runtime)
    with runtime.sessions() as session, session.begin():
        edition = get_edition(session, edition_id)
        rename_section(session, SYSTEM, edition_id, "Upcoming events", "Meet the clusters")
        set_section_layout(session, SYSTEM, edition_id, "Meet the clusters", "cards")
        remove_items(session, SYSTEM, edition_id, [e.item_id for e in edition.entries if e.item.kind == "event"])
    assert "Meet the clusters" not in titles(runtime, edition_id)

    with runtime.sessions() as session, session.begin():
        item_at(session, "Cluster day in Lyon", MONDAY + timedelta(hours=2), kind="event", starts_at=MONDAY + 9 * DAY)
        assemble_digest(session, ZONE, now=MONDAY + timedelta(hours=3))

    assert titles(runtime, edition_id)["Meet the clusters"] == ["Cluster day in Lyon"]
    assert layouts(runtime, edition_id)["Meet the clusters"] == "cards"
    assert list(titles(runtime, edition_id))[1] == "Meet the clusters"  # in its place, not at the end


def test_the_weekly_digest_lists_events_and_calls_and_shows_news_and_achievements_as_cards(runtime: Runtime) -> None:
    edition_id = week_digest(runtime)
    assert layouts(runtime, edition_id) == {
        "News": "cards",
        "Upcoming events": "list",
        "Open calls": "list",
        "Cluster achievements": "cards",
    }


def layout_lines(runtime: Runtime, edition_id: int) -> list[tuple[str, str, dict]]:
    with runtime.sessions() as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_id == edition_id, AuditEntry.action == "edition.section_layout")
            .order_by(AuditEntry.id)
        )
        return [(row.action, row.actor, row.detail) for row in rows]


def test_the_layout_switches_from_the_compose_page_with_an_audit_line(runtime: Runtime) -> None:
    edition_id = week_digest(runtime)
    admin = desk(make_app(runtime), ADMIN)
    with runtime.sessions() as session, session.begin():
        rename_section(session, SYSTEM, edition_id, "Cluster achievements", "Achievements")
        item_at(session, "Approved after the assembly", MONDAY + timedelta(hours=1))  # offered for adding
    page = admin.page(f"/editor/editions/{edition_id}")
    assert 'aria-label="Show Upcoming events as cards"' in page
    choices = re.findall(r"<option>([^<]+)</option>", page)  # where to add items: a renamed section once
    assert "Achievements" in choices and "Cluster achievements" not in choices

    listed_before = admin.page(f"/editor/editions/{edition_id}/preview").count('class="dg-row-title"')
    shown = admin.follow(
        f"/editor/editions/{edition_id}/sections/layout", {"title": "Upcoming events", "layout": "cards"}
    )
    listed_after = admin.page(f"/editor/editions/{edition_id}/preview").count('class="dg-row-title"')

    assert "“Upcoming events” is shown as cards." in shown
    assert (listed_before, listed_after) == (2, 1)  # the preview follows: the event is a card now, the call a row
    assert layouts(runtime, edition_id)["Upcoming events"] == "cards"
    assert layout_lines(runtime, edition_id) == [
        (
            "edition.section_layout",
            ADMIN,
            {"section": "Upcoming events", "key": "events", "layout": "cards", "was": "list"},
        )
    ]
    refused = admin.follow(f"/editor/editions/{edition_id}/sections/layout", {"title": "News", "layout": "grid"})
    assert "a section&#39;s layout is one of cards, list, not &#39;grid&#39;" in refused


def test_the_layout_switches_from_the_command_line_with_the_same_audit_line(
    runtime: Runtime, write_config: Callable[..., Path]
) -> None:
    config = write_config()
    add_accounts(runtime)
    edition_id = week_digest(runtime)

    switched = digest("edition", "section", "layout", str(edition_id), "News", "list", "--as", ADMIN, config=config)
    renamed = digest("edition", "section", "rename", str(edition_id), "News", "Headlines", "--as", ADMIN, config=config)

    assert "“News” is shown as list" in switched.stdout
    assert "renamed “Headlines”" in renamed.stdout
    assert layout_lines(runtime, edition_id) == [
        ("edition.section_layout", ADMIN, {"section": "News", "key": "news", "layout": "list", "was": "cards"})
    ]
    listed = digest_json("edition", "section", "list", str(edition_id), config=config)
    assert [(row["key"], row["title"], row["layout"]) for row in listed] == [
        ("news", "Headlines", "list"),
        ("events", "Upcoming events", "list"),
        ("open-calls", "Open calls", "list"),
        ("achievements", "Cluster achievements", "cards"),
    ]
    wrong = digest("edition", "section", "layout", str(edition_id), "Nope", "list", config=config, check=False)
    assert wrong.returncode == 1
    assert wrong.stderr == f"digest: error: edition {edition_id} has no section 'Nope'\n"


def test_the_layout_is_frozen_with_the_edition_once_it_is_sent(
    runtime: Runtime, write_config: Callable[..., Path]
) -> None:
    config = write_config()
    edition_id = week_digest(runtime)
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 1)
        set_section_layout(session, SYSTEM, edition_id, "News", "list")
        send(session, runtime.config, get_edition(session, edition_id), MONDAY)
    with runtime.sessions() as session:
        frozen = get_edition(session, edition_id).html or ""
    rows = re.findall(r'class="dg-row(?: dg-rule)?"', frozen)
    assert len(rows) == 3  # news, the event, the call: lists; the achievement a card

    with runtime.sessions() as session, session.begin(), pytest.raises(EditionError, match="frozen"):
        set_section_layout(session, SYSTEM, edition_id, "News", "cards")
    refused = digest("edition", "section", "layout", str(edition_id), "News", "cards", config=config, check=False)
    page = desk(make_app(runtime), ADMIN).page(f"/editor/editions/{edition_id}")

    assert refused.returncode == 1 and "frozen" in refused.stderr
    assert 'title="The layout it went out with">List</span>' in page
    assert layouts(runtime, edition_id)["News"] == "list"
    with runtime.sessions() as session:
        assert get_edition(session, edition_id).html == frozen
