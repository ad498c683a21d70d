"""Times speak the site's clock (audit lines, the page and `digest audit list`, "is in the past"), and the queue
lists in one order on the editors' page and `digest queue list`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask

from digest.audit import Actor
from digest.editions import lifecycle
from digest.models import Edition
from digest.runtime import Runtime
from tests.cli import digest, digest_json
from tests.editor_helpers import ADMIN, desk
from tests.factories import make_item


def draft(runtime: Runtime) -> int:
    with runtime.sessions() as session, session.begin():
        edition = Edition(type="newsletter", title="Weekly", subject="Weekly", slug="weekly")
        session.add(edition)
        session.flush()
        return edition.id


def test_a_past_time_is_answered_on_the_sites_clock(app: Flask, runtime: Runtime) -> None:
    edition_id = draft(runtime)
    page = desk(app, ADMIN).follow(f"/editor/editions/{edition_id}/schedule", {"at": "2020-01-05T09:00"})
    assert "5 Jan 2020, 09:00 CET is in the past" in page  # what the editor typed, not 08:00 UTC
    assert "+00:00" not in page
    result = digest("edition", "schedule", str(edition_id), "--at", "2020-01-05T08:00:00+00:00",
                    config=runtime.config.path, check=False)  # fmt: skip
    assert result.returncode == 1 and "5 Jan 2020, 09:00 CET is in the past" in result.stderr


def test_the_audit_trail_shows_local_times_with_their_zone(app: Flask, runtime: Runtime) -> None:
    edition_id = draft(runtime)
    at = datetime(2030, 7, 1, 7, 30, tzinfo=UTC)  # 09:30 in Brussels (summer time)
    with runtime.sessions() as session, session.begin():
        lifecycle.schedule(session, Actor("ana@example.org"), edition_id, at, timezone="Europe/Brussels")
    page = desk(app, ADMIN).page("/editor/audit")
    assert "at: 1 Jul 2030, 09:30 CEST" in page and "2030-07-01T07:30" not in page
    assert re.search(r'<td class="when">\d{1,2} \w{3} \d{4}, \d\d:\d\d (CET|CEST)</td>', page)

    table = digest("audit", "list", config=runtime.config.path).stdout
    line = next(line for line in table.splitlines() if "edition.scheduled" in line)
    assert '"at":"1 Jul 2030, 09:30 CEST"' in line and re.match(r"\d{1,2} \w{3} \d{4}, \d\d:\d\d CES?T ", line)
    [row] = [
        row for row in digest_json("audit", "list", config=runtime.config.path) if row["action"] == "edition.scheduled"
    ]
    assert row["detail"]["at"] == "2030-07-01T07:30:00+00:00"  # --json stays machine-readable UTC


def titles_on_page(page: str) -> list[str]:
    return re.findall(r'<a class="title" href="/editor/items/\d+[^"]*">([^<]+)</a>', page)


def test_all_kinds_lists_a_collection_kind_by_kind_events_by_start_on_web_and_cli(app: Flask, runtime: Runtime) -> None:
    collected = datetime.now(UTC).replace(microsecond=0)  # one collection run stores its items with one time
    soon, later = collected + timedelta(days=5), collected + timedelta(days=50)
    with runtime.sessions() as session, session.begin():
        for title, kind, fields in [
            ("Late event", "event", {"starts_at": later, "ends_at": later + timedelta(hours=2)}),
            ("Early event", "event", {"starts_at": soon, "ends_at": soon + timedelta(hours=2)}),
            ("Late call", "call", {"deadline": later}),
            ("Early call", "call", {"deadline": soon}),
            ("Older news", "news", {"published_at": collected - timedelta(days=3)}),
            ("Newer news", "news", {"published_at": collected - timedelta(days=1)}),
        ]:
            make_item(session, title, kind=kind, status="pending", collected_at=collected, **fields)
        make_item(session, "Submitted since", status="pending", collected_at=collected + timedelta(minutes=5))
    expected = ["Submitted since", "Newer news", "Older news", "Early event", "Late event", "Early call", "Late call"]

    assert titles_on_page(desk(app, ADMIN).page("/editor/")) == expected
    rows = digest_json("queue", "list", "--status", "pending", config=runtime.config.path)
    assert [row["title"] for row in rows] == expected
    events = digest_json("queue", "list", "--kind", "event", config=runtime.config.path)
    assert [row["title"] for row in events] == ["Early event", "Late event"]
    newest = digest_json("queue", "list", "--sort", "newest", config=runtime.config.path)
    assert newest[0]["title"] == "Submitted since"


def test_queue_list_help_says_what_it_does(runtime: Runtime) -> None:
    help_text = " ".join(digest("queue", "list", "--help").stdout.split())
    assert "events by start, calls by deadline" in help_text and "--sort" in help_text
