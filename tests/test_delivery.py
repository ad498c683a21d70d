"""Delivery through a real SMTP server: everyone once, retries, bounces, leases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.config import load_config
from digest.db import upgrade
from digest.delivery import Worker, claim_batch, start_sending
from digest.editions import create_edition
from digest.models import Delivery, Edition, Subscriber, utcnow
from digest.runtime import Runtime
from tests.factories import make_item, make_subscribers
from tests.smtpserver import RecordingHandler, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[RecordingHandler, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def smtp_runtime(write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int]) -> Iterator[Runtime]:
    _, port = smtp
    path = write_config(
        mail={"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": port, "timeout_seconds": 5}},
        delivery={"batch_size": 7, "lease_seconds": 60, "max_attempts": 3, "retry_seconds": 0.05},
    )
    runtime = Runtime(load_config(path, environ={}))
    upgrade(runtime.engine)
    yield runtime
    runtime.close()


def queue_edition(runtime: Runtime, subscribers: int) -> tuple[int, list[str]]:
    with runtime.sessions() as session, session.begin():
        make_item(session, "Cluster news for delivery")
        make_item(session, "An event for delivery", kind="event")
        readers = make_subscribers(session, subscribers)
        make_subscribers(session, 2, status="unsubscribed", prefix="gone")
        make_subscribers(session, 1, status="pending", prefix="unconfirmed")
        edition = create_edition(session, "digest", "Europe/Brussels")
        start_sending(session, runtime.config, edition.id)
        return edition.id, [reader.email for reader in readers]


def statuses(runtime: Runtime, edition_id: int) -> dict[str, str]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.status).join(Delivery.subscriber).where(Delivery.edition_id == edition_id)
        )
        return dict(rows.all())


def test_every_active_subscriber_gets_the_edition_exactly_once(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    edition_id, readers = queue_edition(smtp_runtime, 23)
    worker = Worker(smtp_runtime)
    stats = worker.drain()
    worker.close()
    assert stats.sent == 23
    delivered = sorted(address for received in handler.received for address in received.recipients)
    assert delivered == sorted(readers)
    assert set(statuses(smtp_runtime, edition_id).values()) == {"sent"}
    with smtp_runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        assert edition.status == "sent" and edition.sent_at is not None
    message = handler.received[0].message
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@digest.test>")
    # A second worker run finds nothing more to send.
    again = Worker(smtp_runtime)
    assert again.drain().sent == 0
    again.close()
    assert len(handler.received) == 23


def test_a_temporary_refusal_is_retried_until_accepted(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    handler.scripted["reader1@example.org"] = ["451 4.3.0 greylisted, try later", "452 4.2.2 mailbox full"]
    edition_id, _ = queue_edition(smtp_runtime, 3)
    worker = Worker(smtp_runtime)
    stats = worker.drain()
    worker.close()
    assert stats.retried == 2 and stats.sent == 3
    assert len(handler.to("reader1@example.org")) == 1
    assert statuses(smtp_runtime, edition_id)["reader1@example.org"] == "sent"


def test_temporary_refusals_beyond_the_limit_fail_with_the_reason(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    handler.scripted["reader0@example.org"] = ["451 4.3.0 try later"] * 5
    edition_id, _ = queue_edition(smtp_runtime, 2)
    worker = Worker(smtp_runtime)
    worker.drain()
    worker.close()
    with smtp_runtime.sessions() as session:
        failed = session.scalar(
            select(Delivery).join(Delivery.subscriber).where(Subscriber.email == "reader0@example.org")
        )
        assert failed.status == "failed" and failed.attempts == 3
        assert "gave up after 3 attempts" in failed.last_error and "451" in failed.last_error
    assert statuses(smtp_runtime, edition_id)["reader1@example.org"] == "sent"


def test_a_hard_bounce_suppresses_the_subscriber_and_a_policy_refusal_does_not(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    handler.scripted["reader0@example.org"] = ["550 5.1.1 no such user"]
    handler.scripted["reader1@example.org"] = ["554 5.7.1 message refused by policy"]
    edition_id, _ = queue_edition(smtp_runtime, 3)
    worker = Worker(smtp_runtime)
    worker.drain()
    worker.close()
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
    worker = Worker(smtp_runtime)
    worker.drain()
    worker.close()
    assert set(statuses(smtp_runtime, edition_id).values()) == {"sent"}
    assert sorted(a for r in handler.received for a in r.recipients) == sorted(readers)


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
    worker = Worker(smtp_runtime)
    worker.drain()
    worker.close()
    assert sorted(a for r in handler.received for a in r.recipients) == sorted(readers)
    assert set(statuses(smtp_runtime, edition_id).values()) == {"sent"}


def test_someone_who_unsubscribes_after_queueing_is_not_sent_to(smtp_runtime: Runtime, smtp) -> None:
    handler, _ = smtp
    edition_id, _ = queue_edition(smtp_runtime, 3)
    with smtp_runtime.sessions() as session, session.begin():
        session.scalar(select(Subscriber).where(Subscriber.email == "reader1@example.org")).status = "unsubscribed"
    worker = Worker(smtp_runtime)
    worker.drain()
    worker.close()
    assert handler.to("reader1@example.org") == []
    assert statuses(smtp_runtime, edition_id)["reader1@example.org"] == "failed"
