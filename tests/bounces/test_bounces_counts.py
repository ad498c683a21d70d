"""What editors see: the edition page's sent / failed / bounced / complained counts and the list's health
line (bounce and complaint rates of the last 30 days), and the same counts in `digest edition show --json`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from digest.audit import SYSTEM
from digest.bounces.health import list_health
from digest.editions.lifecycle import create_edition
from digest.models import Delivery, utcnow
from digest.runtime import Runtime
from tests.bounces import samples
from tests.bounces.helpers import bounce_runtime, maildir_with, send_edition
from tests.cli import digest_json
from tests.editor_helpers import ADMIN, desk, make_app
from tests.factories import make_item, make_subscribers


def test_the_edition_page_shows_bounces_complaints_and_a_warning_health_line(
    write_config: Callable[..., Path], smtp, tmp_path: Path
) -> None:
    runtime = bounce_runtime(write_config, smtp[1])
    edition_id, sent = send_edition(runtime, smtp[0], readers=4)
    bounced, complaining, _, _ = sorted(sent)
    folder = maildir_with(tmp_path / "md", samples.postfix_dsn(sent[bounced]), samples.arf_complaint(sent[complaining]))
    digest_json("bounces", "process", "--maildir", str(folder), config=runtime.config.path)
    shown = digest_json("edition", "show", str(edition_id), config=runtime.config.path)
    assert shown["counts"] == {"queued": 0, "sending": 0, "sent": 3, "failed": 0, "bounced": 1, "complained": 1}
    admin = desk(make_app(runtime), ADMIN)
    page = admin.page(f"/editor/editions/{edition_id}")
    assert 'Sent <b data-count="sent">3</b>' in page
    assert 'Bounced <b data-count="bounced">1</b>' in page
    assert 'Complained <b data-count="complained">1</b>' in page
    assert 'class="small list-health health-bad"' in page
    assert "25.00% bounced (1)" in page and "bounces above 2%" in page and "complaints above 0.1%" in page
    progress = admin.get(f"/editor/editions/{edition_id}/progress.json").get_json()
    assert (progress["sent"], progress["bounced"], progress["complained"], progress["total"]) == (3, 1, 1, 4)
    assert progress["done_percent"] == 100
    runtime.close()


def _went_out(runtime: Runtime, total: int, hard: int, complaints: int, refused: int = 0, days_ago: int = 1) -> None:
    """`total` deliveries that went out `days_ago` days ago: some bounced later, some refused at once."""
    when = utcnow() - timedelta(days=days_ago)
    with runtime.sessions() as session, session.begin():
        make_item(session, f"News {days_ago} {total}")
        edition = create_edition(session, runtime.config, SYSTEM, "newsletter").require()
        readers = make_subscribers(session, total, prefix=f"r{days_ago}-{total}-")
        for number, reader in enumerate(readers):
            feedback = "hard" if number < hard else "complaint" if number < hard + complaints else None
            status = "bounced" if number >= total - refused else "sent"
            session.add(
                Delivery(
                    edition_id=edition.id,
                    subscriber_id=reader.id,
                    status=status,
                    sent_at=when if status == "sent" else None,
                    claimed_at=when,
                    feedback=feedback,
                )
            )


def test_the_health_line_warns_only_above_two_percent_bounces_and_a_tenth_of_a_percent_complaints(
    runtime: Runtime,
) -> None:
    _went_out(runtime, 1000, hard=15, complaints=1, refused=5)  # exactly 2% and 0.1%: fine
    with runtime.sessions() as session:
        health = list_health(session)
    assert (health.sent, health.bounced, health.complained) == (1000, 20, 1)
    assert health.ok and health.warnings == []
    _went_out(runtime, 1000, hard=0, complaints=0, days_ago=31)  # older than the window: not counted
    _went_out(runtime, 10, hard=1, complaints=1)
    with runtime.sessions() as session:
        health = list_health(session)
    assert (health.sent, health.bounced, health.complained) == (1010, 21, 2)
    assert [warning.split(":")[0] for warning in health.warnings] == ["bounces above 2%", "complaints above 0.1%"]
