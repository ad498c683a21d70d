"""The bounce mailbox over IMAP with TLS: a real Dovecot (tests.bounces.dovecot) holds real reports about
an edition really sent; `digest bounces process` and the scheduler's job read it through bounces.mailbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.runtime import Runtime
from scheduler.plan import job_specs
from scheduler.runner import Runner
from tests.bounces import samples
from tests.bounces.dovecot import PASSWORD, Dovecot, dovecot_server
from tests.bounces.helpers import audit_lines, bounce_runtime, send_edition, status_of
from tests.cli import digest, digest_json
from tests.scheduler.helpers import job_runs
from tests.smtpserver import RecordingHandler


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with dovecot_server() as server:
        yield server


@pytest.fixture
def imap_runtime(
    write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int], dovecot: Dovecot
) -> Iterator[Runtime]:
    if dovecot.total():  # each test starts with an empty inbox
        with dovecot.client() as client:
            client.store("1:*", "+FLAGS", "(\\Deleted)")
            client.expunge()
    runtime = bounce_runtime(
        write_config, smtp[1], mailbox=dovecot.url(), password=PASSWORD, ca_file=str(dovecot.ca_file)
    )
    yield runtime
    runtime.close()


def test_reports_in_an_imap_mailbox_are_processed_once(imap_runtime: Runtime, smtp, dovecot: Dovecot) -> None:
    edition_id, sent = send_edition(imap_runtime, smtp[0], readers=4)
    hard, complaining, soft, unknown_sender = sorted(sent)
    dovecot.deliver(
        samples.postfix_dsn(sent[hard]),
        samples.arf_complaint(sent[complaining]),
        samples.exim_dsn(sent[soft], status="4.2.2"),
        samples.plain_reply(sent[unknown_sender].sender),
    )
    outcomes = digest_json("bounces", "process", config=imap_runtime.config.path)
    assert sorted((o["kind"], o["subscriber"], o["action"]) for o in outcomes) == [
        ("complaint", complaining, "complained"),
        ("hard", hard, "bounced"),
        ("soft", soft, "counted"),
        ("unknown", None, "kept"),
    ]
    assert status_of(imap_runtime, hard) == "bounced"
    assert status_of(imap_runtime, complaining) == "complained"
    assert status_of(imap_runtime, soft) == "active"
    assert dovecot.unseen() == 0 and dovecot.total() == 4  # marked \Seen, nothing deleted
    assert digest_json("bounces", "process", config=imap_runtime.config.path) == []
    assert sorted(line.action for line in audit_lines(imap_runtime)) == [
        "bounce.complaint",
        "bounce.hard",
        "bounce.soft",
        "bounce.unknown",
    ]
    shown = digest_json("edition", "show", str(edition_id), config=imap_runtime.config.path)
    assert (shown["counts"]["bounced"], shown["counts"]["complained"]) == (1, 1)


def test_the_scheduler_reads_the_mailbox_when_one_is_configured(imap_runtime: Runtime, smtp, dovecot: Dovecot) -> None:
    assert "bounces" in [spec.name for spec in job_specs(imap_runtime.config)]
    _, sent = send_edition(imap_runtime, smtp[0], readers=1)
    [email] = sent
    dovecot.deliver(samples.gmail_dsn(sent[email]))
    Runner(imap_runtime).run_due(datetime.now(UTC), only=["bounces"])
    assert status_of(imap_runtime, email) == "bounced"
    [run] = job_runs(imap_runtime, "bounces")
    assert run.outcome == "ok" and "1 message read, 1 bounced" in run.detail
    assert [line.actor for line in audit_lines(imap_runtime)] == ["scheduler"]


def test_no_mailbox_no_bounce_job(runtime: Runtime) -> None:
    assert "bounces" not in [spec.name for spec in job_specs(runtime.config)]


def test_a_wrong_password_or_certificate_is_one_clear_line(
    write_config: Callable[..., Path], smtp, dovecot: Dovecot
) -> None:
    wrong = bounce_runtime(write_config, smtp[1], mailbox=dovecot.url(), password="nope", ca_file=str(dovecot.ca_file))
    result = digest("bounces", "process", config=wrong.config.path, check=False)
    assert result.returncode == 1 and "bounces.mailbox" in result.stderr and "Traceback" not in result.stderr
    untrusted = bounce_runtime(write_config, smtp[1], mailbox=dovecot.url(), password=PASSWORD)
    result = digest("bounces", "process", config=untrusted.config.path, check=False)
    assert result.returncode == 1 and "certificate" in result.stderr.lower() and "Traceback" not in result.stderr
    wrong.close()
    untrusted.close()
