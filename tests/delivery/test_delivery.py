"""Delivery through a real SMTP server: everyone once, retries, bounces, leases, pausing, the
connection pool, TLS and login, DKIM, and who an edition goes to."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import dkim
import pytest
from sqlalchemy import select

from digest.audit import SYSTEM
from digest.delivery.ledger import claim_batch, resume_edition, start_sending
from digest.delivery.message import EditionMessage, Recipient, qp_slot, site_links
from digest.delivery.rate import RateLimiter
from digest.delivery.worker import Worker
from digest.editions.core import EditionError, delivery_counts
from digest.editions.lifecycle import create_edition
from digest.editors.accounts import add_editor
from digest.models import Delivery, Edition, Subscriber, utcnow
from digest.runtime import Runtime
from digest.subscribers.preferences import make_preferences
from tests.cli import digest, digest_json
from tests.delivery_helpers import (
    dkim_key_pair,
    drain,
    queue_edition,
    smtp_runtime_for,
    statuses,
    tls_server_context,
)
from tests.factories import make_item
from tests.smtpserver import RecordingHandler, smtp_server


@pytest.fixture
def smtp_runtime(write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int]) -> Iterator[Runtime]:
    runtime = smtp_runtime_for(write_config, smtp[1])
    yield runtime
    runtime.close()


def delivered(handler: RecordingHandler) -> list[str]:
    return sorted(address for received in handler.received for address in received.recipients)


def test_every_active_subscriber_gets_the_edition_exactly_once(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    edition_id, readers = queue_edition(smtp_runtime, 23)
    worker = drain(smtp_runtime)
    assert worker.stats.sent == 23
    assert delivered(handler) == sorted(readers)
    assert set(statuses(smtp_runtime, edition_id).values()) == {"sent"}
    with smtp_runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        assert edition.status == "sent" and edition.sent_at is not None
        recorded = set(session.scalars(select(Delivery.message_id).where(Delivery.edition_id == edition_id)))
    assert recorded == {received.message["Message-ID"] for received in handler.received}  # the ledger's own
    message = handler.received[0].message
    assert message["List-Unsubscribe-Post"] is None  # the test site's base_url is http: no one-click
    assert message["Message-ID"].endswith("@digest.test>") and len(recorded) == 23
    assert drain(smtp_runtime).stats.sent == 0  # a second worker run finds nothing more to send
    assert len(handler.received) == 23


def test_a_temporary_refusal_is_retried_until_accepted(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    handler.scripted["reader1@example.org"] = ["451 4.3.0 greylisted, try later", "452 4.2.2 mailbox full"]
    edition_id, _ = queue_edition(smtp_runtime, 3)
    stats = drain(smtp_runtime).stats
    assert stats.retried == 2 and stats.sent == 3
    assert len(handler.to("reader1@example.org")) == 1
    assert statuses(smtp_runtime, edition_id)["reader1@example.org"] == "sent"


def test_temporary_refusals_beyond_the_limit_fail_with_the_reason(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    handler.scripted["reader0@example.org"] = ["451 4.3.0 try later"] * 5
    edition_id, _ = queue_edition(smtp_runtime, 2)
    drain(smtp_runtime)
    with smtp_runtime.sessions() as session:
        failed = session.scalar(
            select(Delivery).join(Delivery.subscriber).where(Subscriber.email == "reader0@example.org")
        )
        assert failed.status == "failed" and failed.attempts == 3
        assert "gave up after 3 attempts" in failed.last_error and "451" in failed.last_error
    assert statuses(smtp_runtime, edition_id)["reader1@example.org"] == "sent"


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_hard_bounce_suppresses_the_subscriber_and_a_policy_refusal_does_not(
    smtp_runtime: Runtime, smtp, pipelining: bool
) -> None:
    handler, _ = smtp
    handler.pipelining = pipelining
    handler.scripted["reader0@example.org"] = ["550 5.1.1 no such user"]
    handler.scripted["reader1@example.org"] = ["554 5.7.1 message refused by policy"]
    edition_id, _ = queue_edition(smtp_runtime, 3)
    drain(smtp_runtime)
    result = statuses(smtp_runtime, edition_id)
    assert result == {"reader0@example.org": "bounced", "reader1@example.org": "failed", "reader2@example.org": "sent"}
    with smtp_runtime.sessions() as session:
        people = dict(session.execute(select(Subscriber.email, Subscriber.status)).all())
    assert people["reader0@example.org"] == "bounced"
    assert people["reader1@example.org"] == "active"


def test_a_dropped_connection_is_retried_on_a_new_connection(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    handler.drop_for["reader2@example.org"] = 1
    edition_id, readers = queue_edition(smtp_runtime, 5)
    stats = drain(smtp_runtime).stats
    assert set(statuses(smtp_runtime, edition_id).values()) == {"sent"}
    assert delivered(handler) == sorted(readers)
    assert stats.retried == 1 and handler.connections >= 2


def test_a_claim_older_than_its_lease_goes_back_to_the_queue(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    edition_id, readers = queue_edition(smtp_runtime, 4)
    crashed_at = utcnow() - timedelta(seconds=120)
    with smtp_runtime.sessions() as session, session.begin():  # a worker claims a batch, then dies
        claimed = claim_batch(session, 2, 60, crashed_at)
    assert len(claimed) == 2
    with smtp_runtime.sessions() as session, session.begin():  # inside the lease, nobody takes them
        assert set(claim_batch(session, 10, 60, crashed_at + timedelta(seconds=30))).isdisjoint(claimed)
        session.rollback()
    drain(smtp_runtime)
    assert delivered(handler) == sorted(readers)
    assert set(statuses(smtp_runtime, edition_id).values()) == {"sent"}


def test_someone_who_unsubscribes_after_queueing_is_not_sent_to(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    edition_id, _ = queue_edition(smtp_runtime, 3)
    with smtp_runtime.sessions() as session, session.begin():
        session.scalar(select(Subscriber).where(Subscriber.email == "reader1@example.org")).status = "unsubscribed"
    drain(smtp_runtime)
    assert handler.to("reader1@example.org") == []
    assert statuses(smtp_runtime, edition_id)["reader1@example.org"] == "failed"


# --------------------------------------------------------------------------- pausing


def test_failures_in_a_row_pause_the_edition_tell_the_editors_and_resume_sends_the_rest(
    write_config: Callable[..., Path], smtp
) -> None:
    handler, port = smtp
    runtime = smtp_runtime_for(
        write_config, port, smtp={"pool_size": 1}, delivery={"pause_after_failures": 4, "batch_size": 30}
    )
    with runtime.sessions() as session, session.begin():
        add_editor(session, SYSTEM, "chief@example.net", "a long enough password", role="admin")
        add_editor(session, SYSTEM, "junior@example.net", "a long enough password", role="editor")
    handler.refuse_matching = ("@example.org", "451 4.3.2 system not accepting network messages")
    edition_id, readers = queue_edition(runtime, 30)

    stats = drain(runtime).stats  # stops by itself: a paused edition has nothing due
    assert stats.paused_editions == [edition_id] and stats.sent == 0
    shown = digest_json("edition", "show", str(edition_id), config=runtime.config.path)
    assert shown["status"] == "paused"
    assert shown["counts"] == {"queued": 30, "sending": 0, "sent": 0, "failed": 0, "bounced": 0, "complained": 0}
    with runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        assert "4 deliveries in a row failed" in edition.last_error and "451 4.3.2" in edition.last_error
        tried = session.scalars(select(Delivery.attempts).where(Delivery.edition_id == edition_id)).all()
    assert sorted(tried, reverse=True)[:5] == [1, 1, 1, 1, 0]  # the rest of the batch went back untried
    [alert] = handler.received
    assert alert.recipients == ["chief@example.net"]
    assert "Sending paused" in alert.message["Subject"]
    assert f"digest edition resume {edition_id}" in alert.message.get_content()

    handler.refuse_matching = None  # the cause is fixed
    resumed = digest("edition", "resume", str(edition_id), config=runtime.config.path)
    assert "sending resumed" in resumed.stdout
    drain(runtime)
    assert sorted(a for r in handler.received[1:] for a in r.recipients) == sorted(readers)
    with runtime.sessions() as session, session.begin():
        assert session.get(Edition, edition_id).status == "sent"
        assert delivery_counts(session, [edition_id])[edition_id]["sent"] == 30
        with pytest.raises(EditionError, match="only a paused edition can be resumed"):
            resume_edition(session, SYSTEM, edition_id)
    runtime.close()


def test_failures_that_are_not_in_a_row_do_not_pause(write_config: Callable[..., Path], smtp) -> None:
    handler, port = smtp
    runtime = smtp_runtime_for(write_config, port, smtp={"pool_size": 1}, delivery={"pause_after_failures": 3})
    for n in range(0, 12, 2):  # every other reader refused once
        handler.scripted[f"reader{n}@example.org"] = ["451 4.3.0 try later"]
    _, readers = queue_edition(runtime, 12)
    stats = drain(runtime).stats
    assert stats.paused_editions == [] and stats.retried == 6
    assert delivered(handler) == sorted(readers)
    runtime.close()


# --------------------------------------------------------------------------- the connection pool, TLS, login


def test_the_pool_sends_over_its_connections_and_reuses_them(write_config: Callable[..., Path], smtp) -> None:
    handler, port = smtp
    handler.delay = 0.02  # a slow server: the pool's connections work side by side
    runtime = smtp_runtime_for(write_config, port, smtp={"pool_size": 3}, delivery={"batch_size": 30})
    _, readers = queue_edition(runtime, 30)
    drain(runtime)
    assert delivered(handler) == sorted(readers)
    assert handler.connections == 3 and handler.most_open_connections == 3
    per_connection = [sum(1 for r in handler.received if r.connection == n) for n in (1, 2, 3)]
    assert sum(per_connection) == 30 and min(per_connection) > 1
    runtime.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(
    security: str, write_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, certificate = tls_server_context(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # the client trusts our test certificate only
    with smtp_server(tls=context, implicit_tls=security == "ssl", users={"digest": "s3cret!"}) as (handler, port):
        smtp = {"security": security, "username": "digest", "password": "wrong"}
        runtime = smtp_runtime_for(write_config, port, smtp=smtp)
        edition_id, readers = queue_edition(runtime, 4)
        worker = Worker(runtime)
        worker.run_once()
        worker.close()
        with runtime.sessions() as session:
            errors = set(session.scalars(select(Delivery.last_error).where(Delivery.edition_id == edition_id)))
        assert len(errors) == 1 and "refused the login: 535" in errors.pop()
        assert handler.received == []
        runtime.close()

        runtime = smtp_runtime_for(write_config, port, smtp=smtp | {"password": "s3cret!"})
        drain(runtime)
        assert delivered(handler) == sorted(readers)
        assert set(statuses(runtime, edition_id).values()) == {"sent"}
        runtime.close()


@pytest.mark.parametrize("smtputf8", [True, False])
def test_an_internationalised_address_needs_a_server_that_takes_it(
    write_config: Callable[..., Path], smtputf8: bool
) -> None:
    with smtp_server(smtputf8=smtputf8) as (handler, port):
        runtime = smtp_runtime_for(write_config, port)
        with runtime.sessions() as session, session.begin():
            session.add(Subscriber(email="zoë@exemple.fr", name="Zoë", status="active", preferences={}))
        edition_id, readers = queue_edition(runtime, 2)
        drain(runtime)
        result = statuses(runtime, edition_id)
        runtime.close()
    assert [result[reader] for reader in readers] == ["sent", "sent"]
    if smtputf8:
        assert (
            result["zoë@exemple.fr"] == "sent"
            and handler.to("zoë@exemple.fr")[0].message["To"].addresses[0].display_name == "Zoë"
        )
    else:  # refused for good, without upsetting anyone else's delivery
        assert result["zoë@exemple.fr"] == "failed" and handler.to("zoë@exemple.fr") == []


def test_the_rate_limit_spaces_sends_evenly() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert waits == [0.25, 0.25, 0.25, 0.25]  # the first goes at once, then one every 1/4 s
    now[0] += 10  # idle: no burst is saved up
    limiter.acquire()
    limiter.acquire()
    assert waits[4:] == [0.25]
    unlimited = RateLimiter(0, clock=lambda: now[0], sleep=sleep)
    for _ in range(100):
        unlimited.acquire()
    assert len(waits) == 5


# --------------------------------------------------------------------------- the message


def test_a_message_is_built_once_and_only_the_personal_parts_change(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        make_item(session, "Ünïcode news — with “quotes” & <brackets>")
        edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        start_sending(session, runtime.config, edition.id)
        links = site_links("http://digest.test", "x" * 32)
        message = EditionMessage(edition, "Digest <digest@digest.test>", "Test Cluster Platform", links)
    zoe = Recipient(email="zoe@example.org", name="Zoë = Ünal <&>", uid="a" * 32)
    bob = Recipient(email="bob@example.org", name="Bob", uid="b" * 32)
    raw_zoe, raw_bob = message.build(zoe, "<one@digest.test>"), message.build(bob, "<two@digest.test>")

    parsed = BytesParser(policy=policy.default).parsebytes(raw_zoe)
    assert parsed["To"].addresses[0].display_name == "Zoë = Ünal <&>"
    assert parsed["Message-ID"] == "<one@digest.test>"
    unsubscribe = parsed["List-Unsubscribe"].strip("<>")
    assert unsubscribe == links.unsubscribe_url(zoe.uid) and unsubscribe.startswith("http://digest.test/unsubscribe/")
    text = parsed.get_body(("plain",)).get_content()
    rich = parsed.get_body(("html",)).get_content()
    assert "Zoë = Ünal <&>" in text and "Zoë = Ünal &lt;&amp;&gt;" in rich
    assert unsubscribe in text and unsubscribe in rich and links.preferences_url(zoe.uid) in rich
    assert "Ünïcode news — with “quotes”" in text and "XDIGESTX" not in text + rich
    assert all(len(line) <= 76 for line in raw_zoe.split(b"\r\n")[12:])  # quoted-printable line limit

    personal = set()  # each personal value sits on lines of its own, ended by a soft line break
    for recipient in (zoe, bob):
        for value in (recipient.name, links.unsubscribe_url(recipient.uid), links.preferences_url(recipient.uid)):
            for encoded in (qp_slot(value), qp_slot(html.escape(value, quote=True))):
                personal |= {piece + b"=" for piece in encoded.split(b"=\r\n")}
    changed = set(raw_zoe.split(b"\r\n")) ^ set(raw_bob.split(b"\r\n"))
    per_recipient_headers = (b"To:", b"Message-ID:", b"List-Unsubscribe:", b"Date:")
    assert {line for line in changed if not line.startswith(per_recipient_headers)} <= personal


def test_messages_are_dkim_signed_over_the_unsubscribe_headers(
    write_config: Callable[..., Path], tmp_path: Path, smtp
) -> None:
    handler, port = smtp
    key_file, record = dkim_key_pair(tmp_path)
    dkim_settings = {"domain": "digest.test", "selector": "news2026", "private_key_file": str(key_file)}
    runtime = smtp_runtime_for(write_config, port, mail={"dkim": dkim_settings})
    _, readers = queue_edition(runtime, 3)
    drain(runtime)
    runtime.close()

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"news2026._domainkey.digest.test." else None

    assert delivered(handler) == sorted(readers)
    for received in handler.received:
        assert dkim.verify(received.data, dnsfunc=dns)
        signature = received.message["DKIM-Signature"]
        signed = re.search(r"h=([^;]+)", signature.replace(" ", "")).group(1).lower().split(":")
        assert {"from", "to", "subject", "list-unsubscribe", "list-unsubscribe-post", "list-id"} <= set(signed)
        tampered = received.data.replace(b"List-Unsubscribe: <http", b"List-Unsubscribe: <https", 1)
        assert not dkim.verify(tampered, dnsfunc=dns)


def test_a_missing_dkim_key_is_a_clear_error(write_config: Callable[..., Path], tmp_path: Path) -> None:
    dkim_settings = {"domain": "digest.test", "selector": "s1", "private_key_file": str(tmp_path / "none.pem")}
    config = write_config(mail={"dkim": dkim_settings})
    digest("init", config=config)
    result = digest("worker", "--drain", config=config, check=False)
    assert result.returncode == 1 and "mail.dkim.private_key_file: cannot read" in result.stderr


# --------------------------------------------------------------------------- who gets an edition


def test_an_edition_goes_to_those_whose_preferences_match_it(runtime: Runtime) -> None:
    people = {
        "digest-only@example.org": make_preferences(["digest"]),
        "newsletters-only@example.org": make_preferences(["newsletter"]),
        "health@example.org": make_preferences(["digest", "newsletter"], ["  HEALTH "]),
        "space@example.org": make_preferences(["digest", "newsletter"], ["Space"]),
        "everything@example.org": {},  # no preferences recorded: every edition, every topic
    }
    with runtime.sessions() as session, session.begin():
        for email, preferences in people.items():
            session.add(Subscriber(email=email, status="active", preferences=preferences))
        session.add(Subscriber(email="waiting@example.org", status="pending", preferences={}))
        make_item(session, "A health item", topics=["Health", "Digital transition"])
        make_item(session, "An item without topics")
        digest_edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        assert start_sending(session, runtime.config, digest_edition.id) == 3
        make_item(session, "A newsletter item without topics")
        newsletter = create_edition(session, runtime.config, SYSTEM, "newsletter").require()
        assert start_sending(session, runtime.config, newsletter.id) == 4
    by_edition = {}
    for edition_id in (digest_edition.id, newsletter.id):
        by_edition[edition_id] = set(statuses(runtime, edition_id))
    assert by_edition[digest_edition.id] == {"digest-only@example.org", "health@example.org", "everything@example.org"}
    assert by_edition[newsletter.id] == {
        "newsletters-only@example.org",
        "health@example.org",
        "space@example.org",  # an edition without topics goes to every topic's readers
        "everything@example.org",
    }
