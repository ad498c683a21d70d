"""Editions in the editors' app: make a digest or a newsletter, compose it (texts, sections, order),
preview exactly what subscribers get, test, schedule, send after a confirmation, cancel, and follow
the delivery. Each action leaves an audit line on the edition."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from digest.editions.core import get_edition
from digest.models import Delivery, Edition, Item
from digest.runtime import Runtime
from digest.web import create_app
from tests.cli import digest
from tests.delivery_helpers import drain, smtp_runtime_for
from tests.editor_helpers import ADMIN, EDITOR, Desk, add_accounts, desk, trail
from tests.factories import make_item, make_subscribers
from tests.smtpserver import RecordingHandler, smtp_server


@pytest.fixture
def week(runtime: Runtime) -> dict[str, int]:
    """Approved items of every kind, and three active readers (plus one who left)."""
    now = datetime.now(UTC)
    with runtime.sessions() as session, session.begin():
        made = {
            "news": make_item(session, "Hydrogen valley opens", published_at=now - timedelta(days=1)),
            "more_news": make_item(session, "Textile cluster grows", published_at=now - timedelta(days=2)),
            "event": make_item(session, "Battery forum in Graz", kind="event", approved_at=now),
            "call": make_item(session, "Call for digital SMEs", kind="call", approved_at=now),
        }
        make_subscribers(session, 3)
        make_subscribers(session, 1, status="unsubscribed", prefix="gone")
        return {name: item.id for name, item in made.items()}


def layout_of(runtime: Runtime, edition_id: int) -> list[tuple[str, list[str]]]:
    with runtime.sessions() as session:
        sections: dict[str, list[str]] = {}
        for entry in get_edition(session, edition_id).entries:
            sections.setdefault(entry.section, []).append(entry.item.title)
        return list(sections.items())


def edition_row(runtime: Runtime, edition_id: int) -> Edition:
    with runtime.sessions() as session:
        return session.get(Edition, edition_id)


def assemble(admin: Desk) -> int:
    response = admin.post("/editor/editions", {"type": "digest"})
    assert response.status_code == 303
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_assembling_the_digest_makes_one_draft_of_this_weeks_window(app: Flask, runtime: Runtime, week: dict) -> None:
    editor = desk(app, EDITOR)
    edition_id = assemble(editor)
    page = editor.page(f"/editor/editions/{edition_id}")
    assert "Assembled this week&#39;s digest: 4 items." in page
    assert layout_of(runtime, edition_id) == [
        ("News", ["Hydrogen valley opens", "Textile cluster grows"]),
        ("Upcoming events", ["Battery forum in Graz"]),
        ("Open calls", ["Call for digital SMEs"]),
    ]
    assert assemble(editor) == edition_id  # the same window: the same draft
    assert "already exists: 0 new items added" in editor.page(f"/editor/editions/{edition_id}")
    [created, again] = trail(runtime, "edition", edition_id)
    assert (created.action, created.actor, created.detail["items"]) == ("edition.created", EDITOR, 4)
    assert again.action == "edition.created"
    assert "Weekly digest" in editor.page("/editor/editions")


def test_an_empty_window_makes_no_edition_and_says_why(app: Flask, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        lapsed = make_item(session, "Closed call", kind="call", deadline=datetime.now(UTC) - timedelta(days=1))
    editor = desk(app, EDITOR)
    page = editor.follow("/editor/editions", {"type": "digest"})
    assert "no digest: the window is empty" in page
    with runtime.sessions() as session:
        assert session.query(Edition).count() == 0
        assert session.get(Item, lapsed.id).status == "expired"  # what lapsed is marked, as the command does


def test_a_newsletter_of_picked_items_in_their_kinds_sections(app: Flask, runtime: Runtime, week: dict) -> None:
    editor = desk(app, EDITOR)
    response = editor.post(
        "/editor/editions", {"type": "newsletter", "title": "Autumn", "ids": [week["call"], week["news"]]}
    )
    edition_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert layout_of(runtime, edition_id) == [  # in the kinds' sections, in their usual order
        ("News", ["Hydrogen valley opens"]),
        ("Open calls", ["Call for digital SMEs"]),
    ]
    assert edition_row(runtime, edition_id).title == "Autumn"
    empty = editor.post("/editor/editions", {"type": "newsletter"})
    assert layout_of(runtime, int(empty.headers["Location"].rsplit("/", 1)[1])) == []


def test_composing_texts_sections_and_order(app: Flask, runtime: Runtime, week: dict) -> None:
    editor = desk(app, EDITOR)
    edition_id = assemble(editor)
    base = f"/editor/editions/{edition_id}"
    page = editor.follow(
        f"{base}/texts",
        {
            "title": "Week 48",
            "subject": "Clusters this week",
            "preheader": "Hydrogen, batteries",
            "intro": "Hello *all*",
        },
    )
    assert "Saved the title, subject, preheader, intro." in page
    assert "the subject cannot be empty" in editor.follow(f"{base}/texts", {"subject": " "})
    editor.follow(f"{base}/move", {"item_id": week["more_news"], "direction": "up"})
    editor.follow(f"{base}/sections/move", {"title": "Open calls", "direction": "up"})
    editor.follow(f"{base}/sections/rename", {"title": "News", "new_title": "Cluster news"})
    editor.follow(f"{base}/items/{week['news']}/remove")
    assert layout_of(runtime, edition_id) == [
        ("Cluster news", ["Textile cluster grows"]),
        ("Open calls", ["Call for digital SMEs"]),
        ("Upcoming events", ["Battery forum in Graz"]),
    ]
    page = editor.follow(f"{base}/items", {"ids": week["news"], "section": "__new__", "new_section": "Spotlight"})
    assert "Added 1 item to “Spotlight”." in page
    assert layout_of(runtime, edition_id)[-1] == ("Spotlight", ["Hydrogen valley opens"])
    edition = edition_row(runtime, edition_id)
    assert (edition.title, edition.subject, edition.preheader, edition.intro) == (
        "Week 48",
        "Clusters this week",
        "Hydrogen, batteries",
        "Hello *all*",
    )
    actions = [line.action for line in trail(runtime, "edition", edition_id)]
    assert actions == [
        "edition.created",
        "edition.texts_changed",
        "edition.item_moved",
        "edition.sections_ordered",
        "edition.section_renamed",
        "edition.item_removed",
        "edition.items_added",
    ]
    history = editor.page(base)
    assert "reordered the sections" in history and "renamed a section" in history


def test_drag_and_drop_moves_an_item_to_a_place_in_another_section(app: Flask, runtime: Runtime, week: dict) -> None:
    editor = desk(app, EDITOR)
    edition_id = assemble(editor)
    headers = {"X-Requested-With": "fetch"}
    moved = editor.post(
        f"/editor/editions/{edition_id}/move",
        {"item_id": week["call"], "section": "News", "position": 1},
        headers=headers,
    )
    assert moved.status_code == 200 and moved.get_json()["ok"] is True
    assert layout_of(runtime, edition_id)[0] == (
        "News",
        ["Hydrogen valley opens", "Call for digital SMEs", "Textile cluster grows"],
    )
    refused = editor.post(f"/editor/editions/{edition_id}/move", {"item_id": 999, "position": 0}, headers=headers)
    [error] = refused.get_json()["errors"]
    assert refused.status_code == 409 and error["field"] is None and "does not carry item 999" in error["message"]


def test_the_preview_is_exactly_what_the_command_writes_and_follows_every_change(
    app: Flask, runtime: Runtime, week: dict, tmp_path: Path
) -> None:
    editor = desk(app, EDITOR)
    edition_id = assemble(editor)
    response = editor.get(f"/editor/editions/{edition_id}/preview")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    text = editor.get(f"/editor/editions/{edition_id}/preview.txt").get_data(as_text=True)
    digest("edition", "preview", str(edition_id), "--out", str(tmp_path / "p.html"), "--text", str(tmp_path / "p.txt"),
           config=runtime.config.path)  # fmt: skip
    assert response.get_data(as_text=True) == (tmp_path / "p.html").read_text(encoding="utf-8")
    assert text == (tmp_path / "p.txt").read_text(encoding="utf-8")
    assert "Hydrogen valley opens" in text and "Dear reader" in text

    editor.follow(f"/editor/editions/{edition_id}/texts", {"intro": "A word from the **editors**."})
    assert "A word from the <strong>editors</strong>." in editor.page(f"/editor/editions/{edition_id}/preview")
    editor.follow(
        f"/editor/items/{week['event']}",
        {"title": "Battery forum moves to Linz", "kind": "event", "starts_at": "2027-05-04T09:00"},
    )
    assert "Battery forum moves to Linz" in editor.page(f"/editor/editions/{edition_id}/preview.txt")
    assert edition_row(runtime, edition_id).status == "draft"  # previewing froze nothing
    with runtime.sessions() as session:
        assert session.get(Item, week["news"]).status == "approved"


def test_a_test_send_reaches_the_smtp_server_and_records_only_an_audit_line(
    write_config: Callable[..., Path],
) -> None:
    with smtp_server() as (handler, port):
        runtime = smtp_runtime_for(write_config, port)
        try:
            add_accounts(runtime)
            with runtime.sessions() as session, session.begin():
                make_item(session, "Hydrogen valley opens")
            editor = desk(create_app(runtime), EDITOR)
            edition_id = assemble(editor)
            page = editor.follow(f"/editor/editions/{edition_id}/test", {"address": "Proofreader@Example.org"})
            assert "Sent a test to proofreader@example.org." in page
            assert "not a valid email address" in editor.follow(
                f"/editor/editions/{edition_id}/test", {"address": "nope"}
            )
            [received] = handler.received
            assert received.recipients == ["proofreader@example.org"]
            assert received.message["Subject"].startswith("[TEST] ")
            with runtime.sessions() as session:
                assert session.query(Delivery).count() == 0
            [line] = [line for line in trail(runtime, "edition", edition_id) if line.action == "edition.test_sent"]
            assert line.detail == {"to": "proofreader@example.org"}
        finally:
            runtime.close()


def test_scheduling_reads_the_site_time_zone_and_only_admins_may(app: Flask, runtime: Runtime, week: dict) -> None:
    editor, admin = desk(app, EDITOR), desk(app, ADMIN)
    edition_id = assemble(editor)
    base = f"/editor/editions/{edition_id}"
    assert "An admin schedules it" in editor.page(base)
    assert editor.post(f"{base}/schedule", {"at": "2030-01-14T09:00"}).status_code == 403
    page = admin.follow(f"{base}/schedule", {"at": "2030-01-14T09:00"})
    assert "Scheduled for Mon 14 Jan 2030, 09:00 (Europe/Brussels)." in page
    edition = edition_row(runtime, edition_id)
    assert edition.status == "scheduled" and edition.scheduled_at == datetime(2030, 1, 14, 8, 0, tzinfo=UTC)
    assert "is in the past" in admin.follow(f"{base}/schedule", {"at": "2001-01-01T09:00"})
    assert "does not exist in Europe/Brussels" in admin.follow(f"{base}/schedule", {"at": "2030-03-31T02:30"})
    assert "only an admin can cancel a scheduled edition" in editor.follow(f"{base}/cancel")
    assert "Scheduled sending cancelled." in admin.follow(f"{base}/cancel")
    assert edition_row(runtime, edition_id).status == "cancelled"
    actions = [(line.action, line.actor) for line in trail(runtime, "edition", edition_id)]
    assert actions[1:] == [("edition.scheduled", ADMIN), ("edition.cancelled", ADMIN)]


def test_an_editor_may_discard_a_draft(app: Flask, runtime: Runtime, week: dict) -> None:
    editor = desk(app, EDITOR)
    edition_id = assemble(editor)
    assert "Draft discarded." in editor.follow(f"/editor/editions/{edition_id}/cancel")
    assert edition_row(runtime, edition_id).status == "cancelled"
    assert "Hydrogen valley opens" in editor.page(f"/editor/editions/{edition_id}/preview")  # still readable
    page = editor.follow(f"/editor/editions/{edition_id}/move", {"item_id": week["news"], "direction": "down"})
    assert "is cancelled; its sections and order are frozen" in page


def test_sending_now_asks_for_a_confirmation_then_queues_one_delivery_per_reader(
    app: Flask, runtime: Runtime, week: dict
) -> None:
    admin = desk(app, ADMIN)
    edition_id = assemble(admin)
    base = f"/editor/editions/{edition_id}"
    confirm = admin.page(f"{base}/send")
    assert "Send to 3 subscribers now?" in confirm and "Yes, send to 3 subscribers" in confirm
    unconfirmed = admin.post(f"{base}/send")
    assert unconfirmed.headers["Location"].endswith(f"{base}/send")
    assert edition_row(runtime, edition_id).status == "draft"
    page = admin.follow(f"{base}/send", {"confirm": "yes"})
    assert "Sending to 3 subscribers" in page and 'data-status="sending"' in page
    assert admin.get(f"{base}/progress.json").get_json() | {"failures": []} == {
        "status": "sending", "queued": 3, "sent": 0, "failed": 0, "bounced": 0, "complained": 0, "total": 3,
        "failures": [], "done_percent": 0,
        "left_out": 0,
    }  # fmt: skip
    drain(runtime)
    progress = admin.get(f"{base}/progress.json").get_json()
    assert (progress["status"], progress["sent"], progress["queued"], progress["done_percent"]) == ("sent", 3, 0, 100)
    sent_page = admin.page(base)
    assert "Send now" not in sent_page and "/archive/" in sent_page
    assert "only a draft or scheduled edition can be sent" in admin.follow(f"{base}/send", {"confirm": "yes"})
    [started] = [line for line in trail(runtime, "edition", edition_id) if line.action == "edition.send_started"]
    assert started.detail == {"recipients": 3} and started.actor == ADMIN


def test_delivery_failures_are_listed_and_a_paused_edition_resumes(write_config: Callable[..., Path]) -> None:
    with smtp_server() as (handler, port):
        runtime = smtp_runtime_for(
            write_config, port, smtp={"pool_size": 1}, delivery={"pause_after_failures": 2, "max_attempts": 1}
        )
        try:
            failures = _send_with_refusals(runtime, handler)
            assert {failure["email"] for failure in failures["failures"]} == {
                "reader0@example.org",
                "reader1@example.org",
            }
            assert failures["status"] == "paused" and failures["failed"] == 2
            admin = desk(create_app(runtime), ADMIN)
            page = admin.page(f"/editor/editions/{failures['id']}")
            assert "Sending is paused" in page and "550 5.7.1 relaying denied" in page
            handler.refuse_matching = None
            admin.follow(f"/editor/editions/{failures['id']}/resume")
            assert edition_row(runtime, failures["id"]).status == "sending"
            [resumed] = [line for line in trail(runtime, "edition", failures["id"]) if line.action == "edition.resumed"]
            assert resumed.actor == ADMIN
        finally:
            runtime.close()


def _send_with_refusals(runtime: Runtime, handler: RecordingHandler) -> dict:
    """Send an edition to five readers while the server refuses the first two: the edition pauses."""
    add_accounts(runtime)
    with runtime.sessions() as session, session.begin():
        make_item(session, "Hydrogen valley opens")
        make_subscribers(session, 5)
    app = create_app(runtime)
    admin = desk(app, ADMIN)
    edition_id = assemble(admin)
    handler.refuse_matching = ("reader", "550 5.7.1 relaying denied")
    admin.follow(f"/editor/editions/{edition_id}/send", {"confirm": "yes"})
    drain(runtime)
    return admin.get(f"/editor/editions/{edition_id}/progress.json").get_json() | {"id": edition_id}


@pytest.fixture
def sent_edition(app: Flask, runtime: Runtime, week: dict) -> Iterator[tuple[Desk, int]]:
    admin = desk(app, ADMIN)
    edition_id = assemble(admin)
    admin.follow(f"/editor/editions/{edition_id}/send", {"confirm": "yes"})
    yield admin, edition_id


def test_a_sent_edition_is_frozen_and_previews_what_went_out(sent_edition: tuple[Desk, int], runtime: Runtime) -> None:
    admin, edition_id = sent_edition
    with runtime.sessions() as session:
        frozen = session.get(Edition, edition_id).html
    preview = admin.page(f"/editor/editions/{edition_id}/preview")
    assert re.sub(r"/(unsubscribe|preferences)/[^\"']+", "", preview).startswith(frozen[:200])
    assert "is sending; its sections and order are frozen" in admin.follow(
        f"/editor/editions/{edition_id}/texts", {"subject": "Too late"}
    )
    page = admin.page(f"/editor/editions/{edition_id}")
    assert "Save texts" not in page and "draggable" not in page


def test_anyone_may_hold_an_edition_back_and_only_admins_let_it_go(app: Flask, runtime: Runtime, week: dict) -> None:
    editor, admin = desk(app, EDITOR), desk(app, ADMIN)
    edition_id = assemble(editor)
    admin.follow(f"/editor/editions/{edition_id}/schedule", {"at": "2030-01-14T09:00"})
    assert "Held: it will not go out by itself" in editor.follow(f"/editor/editions/{edition_id}/hold", {"held": "1"})
    assert edition_row(runtime, edition_id).held is True
    refused = editor.follow(f"/editor/editions/{edition_id}/hold", {"held": "0"})
    assert "only an admin can let a held edition go out" in refused
    assert "No longer held" in admin.follow(f"/editor/editions/{edition_id}/hold", {"held": "0"})
    assert edition_row(runtime, edition_id).held is False
    actions = [(line.action, line.actor) for line in trail(runtime, "edition", edition_id)][-2:]
    assert actions == [("edition.held", EDITOR), ("edition.unheld", ADMIN)]
