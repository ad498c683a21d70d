"""Every edition action is one domain function: the command line and the editors' app write the same
audit line for it, and the command line refuses a wrong state with one line and exit status 1."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.editions.lifecycle import create_edition, restore
from digest.models import AuditEntry, Edition
from digest.runtime import Runtime
from tests.cli import digest, digest_json
from tests.editor_helpers import ADMIN, Desk, desk, make_app
from tests.factories import make_item, make_subscribers

SCHEDULE_LOCAL = "2030-01-14T09:00"  # what the web form takes, in the site's time zone (Brussels)
SCHEDULE_ISO = "2030-01-14T09:00:00+01:00"  # the same moment for --at


def _edition_id(response: Any) -> int:
    assert response.status_code == 303, response.status_code
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _lines(runtime: Runtime, edition_ids: list[int]) -> list[tuple[str, str, dict]]:
    """The audit lines about these editions, oldest first, with the editions' ids written as ID."""
    with runtime.sessions() as session:
        entries = session.query(AuditEntry).filter(AuditEntry.target_id.in_(edition_ids)).order_by(AuditEntry.id)
        lines = [(entry.action, entry.actor, entry.detail) for entry in entries if entry.target_type == "edition"]
    named = re.compile(rf"\b({'|'.join(map(str, edition_ids))})\b")
    return [(action, actor, _anonymous(detail, named, edition_ids)) for action, actor, detail in lines]


def _anonymous(detail: dict, named: re.Pattern[str], edition_ids: list[int]) -> dict:
    def hide(key: str, value: Any) -> Any:
        if key == "from" and value in edition_ids:
            return "ID"
        return named.sub("ID", value) if isinstance(value, str) else value

    return {key: hide(key, value) for key, value in detail.items()}


def _empty_newsletter(runtime: Runtime) -> int:
    """A new draft newsletter with no item in it; its id."""
    with runtime.sessions() as session, session.begin():
        return create_edition(session, runtime.config, SYSTEM, "newsletter", sections=[]).require().id


def _web_life(admin: Desk, item_id: int) -> list[int]:
    """Create, schedule, unschedule, schedule, hold, release, cancel, restore, cancel and duplicate a
    newsletter; create, test and send another."""
    first = _edition_id(admin.post("/editor/editions", {"type": "newsletter", "title": "Autumn", "ids": [item_id]}))
    base = f"/editor/editions/{first}"
    for path, form in [
        ("schedule", {"at": SCHEDULE_LOCAL}),
        ("unschedule", {}),
        ("schedule", {"at": SCHEDULE_LOCAL}),
        ("hold", {"held": "1"}),
        ("hold", {"held": "0"}),
        ("cancel", {}),
        ("restore", {}),
        ("cancel", {}),
    ]:
        assert admin.post(f"{base}/{path}", form).status_code == 303
    copy = _edition_id(admin.post(f"{base}/duplicate"))
    second = _edition_id(admin.post("/editor/editions", {"type": "newsletter", "title": "Winter", "ids": [item_id]}))
    assert "Sent a test to proof@example.org." in admin.follow(
        f"/editor/editions/{second}/test", {"address": "proof@example.org"}
    )
    assert "Sending to 2 subscribers" in admin.follow(f"/editor/editions/{second}/send", {"confirm": "yes"})
    return [first, copy, second]


def _cli_life(config: Path, item_id: int) -> list[int]:
    """The same, from the command line, acting as the same editor."""

    def run(*args: str) -> None:
        digest("edition", *args, "--as", ADMIN, config=config)

    created = digest_json("edition", "create", "--type", "newsletter", "--items", str(item_id), "--title", "Autumn",
                          "--as", ADMIN, config=config)  # fmt: skip
    first = str(created["id"])
    run("schedule", first, "--at", SCHEDULE_ISO)
    run("unschedule", first)
    run("schedule", first, "--at", SCHEDULE_ISO)
    run("hold", first)
    run("release", first)
    run("cancel", first)
    run("restore", first)
    run("cancel", first)
    copy = digest_json("edition", "duplicate", first, "--as", ADMIN, config=config)["id"]
    second = digest_json("edition", "create", "--type", "newsletter", "--items", str(item_id), "--title", "Winter",
                         "--as", ADMIN, config=config)["id"]  # fmt: skip
    run("send", str(second), "--test", "proof@example.org")
    run("send", str(second))
    return [int(first), copy, second]


def test_the_command_line_and_the_web_app_write_the_same_audit_lines(
    runtime: Runtime, write_config: Callable[..., Path]
) -> None:
    config = write_config()
    app = make_app(runtime)  # with an admin and an editor account
    with runtime.sessions() as session, session.begin():
        web_item = make_item(session, "Hydrogen valley opens").id
        cli_item = make_item(session, "Textile cluster grows").id
        make_subscribers(session, 2)

    web = _lines(runtime, _web_life(desk(app, ADMIN), web_item))
    cli = _lines(runtime, _cli_life(config, cli_item))

    assert [action for action, _, _ in cli] == [
        "edition.created",
        "edition.scheduled",
        "edition.unscheduled",
        "edition.scheduled",
        "edition.held",
        "edition.unheld",
        "edition.cancelled",
        "edition.restored",
        "edition.cancelled",
        "edition.duplicated",
        "edition.created",
        "edition.test_sent",
        "edition.send_started",
    ]
    assert {actor for _, actor, _ in cli} == {ADMIN}
    assert cli == web
    assert ("edition.scheduled", ADMIN, {"at": "2030-01-14T08:00:00+00:00", "timezone": "Europe/Brussels"}) in cli


def test_the_command_line_records_its_own_user_when_no_editor_is_named(
    runtime: Runtime, write_config: Callable[..., Path]
) -> None:
    config = write_config()
    edition_id = _empty_newsletter(runtime)
    digest("edition", "hold", str(edition_id), config=config)
    [entry] = digest_json("audit", "list", "--limit", "1", config=config)
    assert (entry["action"], entry["target"]) == ("edition.held", f"edition {edition_id}")
    assert entry["actor"].startswith("cli:")


@pytest.mark.parametrize(
    ("command", "state", "error"),
    [
        ("release", "draft", "edition {id} is not held; only a held edition can be released"),
        ("unschedule", "draft", "edition {id} is draft; only a scheduled edition can be unscheduled"),
        ("hold", "held", "edition {id} is already held"),
        ("hold", "cancelled", "edition {id} is cancelled; only a draft or scheduled edition can be held"),
        ("release", "missing", "no edition with id {id} (see `digest edition list`)"),
        ("restore", "draft", "edition {id} is draft; only a cancelled edition can be restored"),
    ],
)
def test_the_new_commands_refuse_a_wrong_state_with_one_line(
    runtime: Runtime, write_config: Callable[..., Path], command: str, state: str, error: str
) -> None:
    config = write_config()
    with runtime.sessions() as session, session.begin():
        edition = create_edition(session, runtime.config, SYSTEM, "newsletter", sections=[]).require()
        edition.held = state == "held"
        edition.status = "cancelled" if state == "cancelled" else "draft"
        edition_id = edition.id + (100 if state == "missing" else 0)
        trail_before = session.query(AuditEntry).count()

    refused = digest("edition", command, str(edition_id), config=config, check=False)

    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines() == [f"digest: error: {error.format(id=edition_id)}"]
    with runtime.sessions() as session:
        assert session.query(AuditEntry).count() == trail_before


def test_hold_release_schedule_and_unschedule_from_the_command_line(
    runtime: Runtime, write_config: Callable[..., Path]
) -> None:
    config = write_config()
    edition_id = _empty_newsletter(runtime)
    at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)

    digest("edition", "schedule", str(edition_id), "--at", at.isoformat(), config=config)
    assert "held: it will not go out by itself" in digest("edition", "hold", str(edition_id), config=config).stdout
    digest("edition", "release", str(edition_id), config=config)
    assert "is a draft again" in digest("edition", "unschedule", str(edition_id), config=config).stdout

    shown = digest_json("edition", "show", str(edition_id), config=config)
    assert (shown["status"], shown["scheduled_at"]) == ("draft", None)
    actions = [entry["action"] for entry in digest_json("audit", "list", config=config)]
    assert actions == ["edition.unscheduled", "edition.unheld", "edition.held", "edition.scheduled", "edition.created"]


def test_a_cancelled_edition_duplicates_into_a_draft_without_what_went_out_since(
    runtime: Runtime, write_config: Callable[..., Path]
) -> None:
    config = write_config()
    with runtime.sessions() as session, session.begin():
        kept, sent = make_item(session, "Battery forum").id, make_item(session, "Hydrogen valley opens").id
        sections = [("Spotlight", [sent, kept])]
        original = create_edition(session, runtime.config, SYSTEM, "newsletter", title="Autumn", sections=sections)
        original_id = original.require().id
        original.require().intro = "Hello *all*"
        other = create_edition(session, runtime.config, SYSTEM, "newsletter", sections=[("News", [sent])])
        other_id = other.require().id
    digest("edition", "cancel", str(original_id), config=config)
    with runtime.sessions() as session, session.begin():
        start_sending(session, runtime.config, other_id)  # the item goes out in another edition meanwhile

    copy = digest_json("edition", "duplicate", str(original_id), config=config)

    assert (copy["type"], copy["status"], copy["title"]) == ("newsletter", "draft", "Autumn (copy)")
    assert copy["items"] == [kept] and copy["intro"] == "Hello *all*"
    assert [(section["title"], section["items"]) for section in copy["sections"]] == [("Spotlight", [kept])]
    assert copy["warnings"] == ["Left out of the copy, already sent or no longer approved: “Hydrogen valley opens”"]
    [entry] = digest_json("audit", "list", "--limit", "1", config=config)
    assert entry["action"] == "edition.duplicated" and entry["target"] == f"edition {copy['id']}"
    assert entry["detail"] == {"from": original_id, "items": 1, "left_out": [sent]}
    table = digest("edition", "duplicate", str(original_id), config=config).stdout
    assert table.startswith(f"edition {original_id} copied to draft ")


def test_a_cancelled_edition_page_offers_the_way_back(runtime: Runtime) -> None:
    app = make_app(runtime)
    admin = desk(app, ADMIN)
    edition_id = _empty_newsletter(runtime)
    assert admin.post(f"/editor/editions/{edition_id}/cancel", {}).status_code == 303
    page = admin.get(f"/editor/editions/{edition_id}").get_data(as_text=True)
    assert f'action="/editor/editions/{edition_id}/restore"' in page
    assert f'action="/editor/editions/{edition_id}/duplicate"' in page
    assert "Back to a draft" in admin.follow(f"/editor/editions/{edition_id}/restore", {})
    with runtime.sessions() as session:
        assert session.get(Edition, edition_id).status == "draft"


def test_a_restored_digest_that_lost_its_window_says_so(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        make_item(session, "Hydrogen valley opens", status="approved")
        digest_edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        digest_edition.status, digest_edition.window_key = "cancelled", None  # a newer digest took the week
        edition_id = digest_edition.id
    with runtime.sessions() as session, session.begin():
        restored = restore(session, SYSTEM, edition_id)
        assert restored.status == "draft"
        assert any("took this week's window" in warning for warning in restored.warnings)
