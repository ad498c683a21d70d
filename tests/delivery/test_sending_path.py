"""The sending path: Message-IDs that never repeat, the unsubscribe headers, the batch claimed ahead,
the claim query on its partial indexes, and the per-message shortcuts (tokens, dot-safe messages sent as
gathered pieces)."""

from __future__ import annotations

import queue
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import yaml
from itsdangerous import base64_encode
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from digest.audit import SYSTEM
from digest.config import load_config
from digest.db import upgrade
from digest.delivery import headers
from digest.delivery.headers import header_value
from digest.delivery.ledger import (
    Job,
    LedgerStore,
    Outcome,
    claim_batch,
    claim_statement,
    due_query,
    queued_due,
    stale_claims,
    start_sending,
)
from digest.delivery.message import Recipient
from digest.delivery.message_id import new_message_id
from digest.delivery.notices import Notice, send_notice
from digest.delivery.sending import send_test
from digest.delivery.smtp_pool import send_gathered
from digest.delivery.transport import make_transport
from digest.delivery.worker import RECORD_EVERY, Worker, _collect
from digest.editions.lifecycle import create_edition
from digest.models import Delivery, Edition, utcnow
from digest.runtime import Runtime
from digest.subscribers import tokens
from digest.subscribers.tokens import _serializer, make_token, read_token
from tests.cli import digest
from tests.conftest import POSTGRES_URL
from tests.databases import scratch_database
from tests.delivery_helpers import drain, queue_edition, smtp_runtime_for, statuses
from tests.factories import make_item, make_subscribers


def outbox_messages(runtime: Runtime) -> list:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in sorted(runtime.config.outbox_dir.glob("*.eml"))]


def install(folder: Path, database_url: str, base_url: str = "https://digest.test", **mail: object) -> Runtime:
    """A separate install: its own folder, config and database."""
    folder.mkdir()
    settings = {
        "site": {"name": "Test Cluster Platform", "base_url": base_url},
        "database": {"url": database_url},
        "secret_key": "another-install-secret-0123456789abcdef",
        "mail": {"from": "Cluster Digest <digest@digest.test>", "transport": "outbox"} | mail,
        "sources": [],
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    runtime = Runtime(load_config(folder / "config.yaml", environ={}))
    upgrade(runtime.engine)
    return runtime


# --------------------------------------------------------------------------- Message-IDs


def test_message_ids_never_repeat_across_installs_and_test_sends(runtime: Runtime, tmp_path: Path) -> None:
    with scratch_database(tmp_path, POSTGRES_URL, "second") as second_url:
        other = install(tmp_path / "second", second_url)  # a second install, or this one re-initialised
        try:
            with runtime.sessions() as session, session.begin():
                make_item(session, "News for a draft")
                make_subscribers(session, 3)
                edition_id = create_edition(session, runtime.config, SYSTEM, "digest").require().id
            send_test(runtime, SYSTEM, edition_id, "editor@example.org")  # two test sends of one edition
            send_test(runtime, SYSTEM, edition_id, "editor@example.org")
            with runtime.sessions() as session, session.begin():
                start_sending(session, runtime.config, edition_id)
            drain(runtime)
            queue_edition(other, 3)
            drain(other)
            messages = outbox_messages(runtime) + outbox_messages(other)
            with runtime.sessions() as session:
                stored = set(session.scalars(select(Delivery.message_id)))
        finally:
            other.close()
    ids = [message["Message-ID"] for message in messages]
    assert len(ids) == 8 and all(ids) and len(set(ids)) == 8, ids
    assert all(mid.endswith("@digest.test>") for mid in ids)  # the domain of the From address
    assert stored <= set(ids) and len(stored) == 3  # each delivery's row keeps the ID its message carried


def test_message_ids_made_one_after_another_sort_in_that_order() -> None:
    """Time first (milliseconds, as a UUIDv7), then 80 random bits: the ledger's Message-ID index takes each
    new one at its end rather than at a random place (a SQLite worker wrote 55 % less to its WAL)."""
    before = time.time_ns() // 1_000_000
    ids = [new_message_id("clusters.example.eu") for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"<[0-9a-f]{32}@clusters\.example\.eu>", mid) for mid in ids)
    stamps = [int(mid[1:13], 16) for mid in ids]
    assert before <= stamps[0] and stamps[-1] <= after
    assert stamps == sorted(stamps)
    assert len({mid[13:33] for mid in ids}) == len(ids)  # the random part alone never repeats either


# --------------------------------------------------------------------------- unsubscribe headers


def test_list_unsubscribe_offers_the_mailbox_and_one_click_only_over_https(tmp_path: Path) -> None:
    for scheme, folder in (("https", "secure"), ("http", "plain")):
        with scratch_database(tmp_path, POSTGRES_URL, folder) as url:
            base_url = f"{scheme}://digest.test"
            runtime = install(tmp_path / folder, url, base_url, unsubscribe_mailbox="leave@digest.test")
            try:
                queue_edition(runtime, 1)
                drain(runtime)
                (message,) = outbox_messages(runtime)
            finally:
                runtime.close()
        link, mailbox = (part.strip() for part in message["List-Unsubscribe"].split(","))
        assert link.startswith(f"<{scheme}://digest.test/unsubscribe/") and link.endswith(">")
        assert mailbox == "<mailto:leave@digest.test?subject=unsubscribe>"
        one_click = message["List-Unsubscribe-Post"]
        assert one_click == ("List-Unsubscribe=One-Click" if scheme == "https" else None), scheme


def test_an_unsubscribe_mailbox_must_be_a_plain_address(write_config: Callable[..., Path]) -> None:
    config = write_config(mail={"unsubscribe_mailbox": "a@b.example>, <https://evil.example/"})
    result = digest("worker", "--drain", config=config, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "unsubscribe_mailbox" in result.stderr and "is not a plain address" in result.stderr


def test_the_worker_warns_at_start_when_smtp_links_are_not_https(
    write_config: Callable[..., Path], runtime: Runtime, smtp
) -> None:
    _, port = smtp  # (the runtime fixture has migrated the database)
    mail = {"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": port}}
    plain = digest("worker", "--drain", config=write_config(mail=mail))
    assert "warning: site.base_url is http://digest.test, not https" in plain.stderr
    secure = digest("worker", "--drain", config=write_config(mail=mail, site={"base_url": "https://digest.test"}))
    assert "warning" not in secure.stderr
    outbox = digest("worker", "--drain", config=write_config())  # nothing goes out over SMTP: nothing to say
    assert "warning" not in outbox.stderr


# --------------------------------------------------------------------------- claiming


def test_the_next_batch_is_claimed_while_one_is_sent_and_released_on_close(
    write_config: Callable[..., Path], smtp
) -> None:
    handler, port = smtp
    runtime = smtp_runtime_for(write_config, port, delivery={"batch_size": 7})
    edition_id, readers = queue_edition(runtime, 20)
    worker = Worker(runtime)
    try:
        assert worker.run_once() == 7
        assert Counter(statuses(runtime, edition_id).values()) == {"sent": 7, "sending": 7, "queued": 6}
    finally:
        worker.close()
    with runtime.sessions() as session:  # the batch claimed ahead went back untried, its attempt not counted
        rows = session.execute(select(Delivery.status, Delivery.attempts).where(Delivery.status != "sent")).all()
    assert Counter(rows) == {("queued", 0): 13}
    drain(runtime)
    received = Counter(address for message in handler.received for address in message.recipients)
    assert sorted(received) == sorted(readers) and set(received.values()) == {1}
    runtime.close()


def test_a_batch_whose_lease_ran_out_before_the_claim_ahead_is_not_claimed_again(
    write_config: Callable[..., Path], smtp
) -> None:
    handler, port = smtp
    runtime = smtp_runtime_for(write_config, port, delivery={"batch_size": 5, "lease_seconds": 60})
    edition_id, readers = queue_edition(runtime, 12)
    start = utcnow()
    times = iter([start])  # the claim now; everything after it (the claim ahead first) two leases later

    def clock() -> datetime:
        return next(times, start + timedelta(seconds=120))

    worker = Worker(runtime, clock=clock)
    try:
        worker.run_once()
        worker.run_once()  # sends what it claimed ahead, which must not be the first batch again
    finally:
        worker.close()
    drain(runtime)
    received = Counter(address for message in handler.received for address in message.recipients)
    assert sorted(received) == sorted(readers) and set(received.values()) == {1}, received
    assert set(statuses(runtime, edition_id).values()) == {"sent"}
    runtime.close()


def test_a_batch_claimed_ahead_is_not_sent_once_its_edition_paused(write_config: Callable[..., Path], smtp) -> None:
    handler, port = smtp
    runtime = smtp_runtime_for(write_config, port, delivery={"batch_size": 5})
    edition_id, _ = queue_edition(runtime, 12)
    worker = Worker(runtime)
    try:
        worker.run_once()
        with runtime.sessions() as session, session.begin():  # paused meanwhile (another worker's failures)
            session.execute(update(Edition).where(Edition.id == edition_id).values(status="paused"))
        assert worker.run_once() == 0
    finally:
        worker.close()
    assert len(handler.received) == 5
    assert Counter(statuses(runtime, edition_id).values()) == {"sent": 5, "queued": 7}
    runtime.close()


def test_recording_sent_marks_exactly_the_rows_still_being_sent_with_their_time_and_message_id(
    runtime: Runtime,
) -> None:
    """The sent mark goes to the driver without SQLAlchemy's per-row processing (ledger._SentMark; on PostgreSQL
    one UPDATE over arrays, ledger._SentMarkFromArrays): the time and Message-ID must still be stored as the ORM
    reads them back, and a row no longer held (its lease taken over and put back in the queue) left alone."""
    edition_id, _ = queue_edition(runtime, 4)
    store = LedgerStore(runtime.sessions, runtime.config.delivery)
    jobs = store.claim(3, utcnow())
    taken_over = jobs[2].delivery_id
    with runtime.sessions() as session, session.begin():
        session.execute(update(Delivery).where(Delivery.id == taken_over).values(status="queued"))
    now = datetime(2026, 12, 2, 10, 11, 12, 345678, tzinfo=UTC)
    outcomes = [Outcome(job, "sent", message_id=f"<{job.delivery_id}.sent@digest.test>") for job in jobs]
    assert store.record(outcomes, now).sent == 3  # counted from the outcomes, as before
    with runtime.sessions() as session:
        rows = {row.id: row for row in session.scalars(select(Delivery).where(Delivery.edition_id == edition_id))}
    for job in jobs[:2]:
        row = rows[job.delivery_id]
        assert (row.status, row.sent_at, row.message_id, row.last_error) == (
            "sent",
            now,
            f"<{job.delivery_id}.sent@digest.test>",
            None,
        )
    assert (rows[taken_over].status, rows[taken_over].sent_at, rows[taken_over].message_id) == ("queued", None, None)
    assert sorted(row.status for row in rows.values()) == ["queued", "queued", "sent", "sent"]


class HeldLedger(LedgerStore):
    """The real ledger, except that recording the outcome of delivery `held` waits until the SMTP server has
    received more than `count` messages (or 20 s), noting whether it did."""

    def __init__(self, runtime: Runtime, held: int, received: Callable[[], int], count: int) -> None:
        super().__init__(runtime.sessions, runtime.config.delivery)
        self.held, self.received, self.count = held, received, count
        self.more_arrived: bool | None = None

    def record(self, outcomes, now):
        if self.more_arrived is None and any(outcome.job.delivery_id == self.held for outcome in outcomes):
            deadline = time.monotonic() + 20
            while self.received() <= self.count and time.monotonic() < deadline:
                time.sleep(0.01)
            self.more_arrived = self.received() > self.count
        return super().record(outcomes, now)


def test_the_batch_claimed_ahead_goes_out_while_the_last_one_is_still_being_recorded(
    write_config: Callable[..., Path], smtp
) -> None:
    handler, port = smtp
    runtime = smtp_runtime_for(write_config, port, smtp={"pool_size": 1}, delivery={"batch_size": 5})
    edition_id, readers = queue_edition(runtime, 15)
    with runtime.sessions() as session:
        first_batch = list(session.scalars(select(Delivery.id).order_by(Delivery.id).limit(5)))
    ledger = HeldLedger(runtime, first_batch[-1], lambda: len(handler.received), 5)
    worker = Worker(runtime, store=ledger)
    try:
        worker.drain()
    finally:
        worker.close()
    assert ledger.more_arrived  # the sending thread was not left idle waiting for the ledger
    received = Counter(address for message in handler.received for address in message.recipients)
    assert sorted(received) == sorted(readers) and set(received.values()) == {1}
    assert set(statuses(runtime, edition_id).values()) == {"sent"}
    runtime.close()


def plan(session: Session, query) -> str:
    """The database's plan for a query, as text."""
    compiled = query.compile(dialect=session.bind.dialect)
    prefix = "EXPLAIN QUERY PLAN " if session.bind.dialect.name == "sqlite" else "EXPLAIN "
    params = compiled.params
    if session.bind.dialect.name == "sqlite":
        params = tuple(compiled.params[name] for name in compiled.positiontup)
        params = tuple(value.isoformat(" ") if hasattr(value, "isoformat") else value for value in params)
    rows = session.connection().exec_driver_sql(prefix + str(compiled), params).all()
    return "\n".join(" ".join(str(column) for column in row) for row in rows)


def test_the_claim_queries_use_the_partial_indexes(runtime: Runtime) -> None:
    queue_edition(runtime, 600)
    with runtime.sessions() as session, session.begin():  # a send under way: a third done, a few claimed
        first = session.scalar(select(func.min(Delivery.id)))
        session.execute(update(Delivery).where(Delivery.id < first + 200).values(status="sent"))
        claimed = Delivery.id.between(first + 200, first + 205)
        session.execute(update(Delivery).where(claimed).values(status="sending", claimed_at=utcnow()))
        session.execute(text("ANALYZE"))
    now = utcnow()
    with runtime.sessions() as session:
        assert "ix_deliveries_queued" in plan(session, due_query(100, Delivery.id, *queued_due(now)))
        assert "ix_deliveries_sending" in plan(session, due_query(100, Delivery.claimed_at, *stale_claims(now, 300)))
        # and so do the statements that claim them (the choice inside the UPDATE … RETURNING)
        queued = claim_statement(due_query(100, Delivery.id, *queued_due(now)), now)
        stale = claim_statement(due_query(100, Delivery.claimed_at, *stale_claims(now, 300)), now)
        assert "ix_deliveries_queued" in plan(session, queued)
        assert "ix_deliveries_sending" in plan(session, stale)


@pytest.mark.skipif(not POSTGRES_URL, reason="SKIP LOCKED is PostgreSQL's; set DIGEST_TEST_DATABASE_URL to run it")
def test_a_claim_takes_other_rows_at_once_while_another_claim_is_still_open(runtime: Runtime) -> None:
    queue_edition(runtime, 30)
    with runtime.sessions() as first, first.begin():
        held = claim_batch(first, 10, 300, utcnow())  # its transaction stays open: the rows stay locked
        with runtime.sessions() as second, second.begin():
            # Waiting for the first claim's locks would end in an error here rather than hang the test.
            second.execute(text("SET LOCAL lock_timeout = '200ms'"))
            other = claim_batch(second, 10, 300, utcnow())
    assert len(held) == len(other) == 10
    assert not set(held) & set(other)


# --------------------------------------------------------------------------- per-message shortcuts


@pytest.mark.parametrize("value", ["a" * 32, 'Zoë "quoted" \\ </script>', "", "uid-with_dots.and-dashes"])
def test_tokens_are_those_itsdangerous_makes_and_reads(value: str) -> None:
    secret = "s" * 40
    token = make_token(secret, "unsubscribe", value)
    assert token == _serializer(secret, "unsubscribe").dumps(value)
    assert read_token(secret, "unsubscribe", token) == value


def test_the_tokens_base64_is_itsdangerous_base64_for_every_length_and_byte() -> None:
    samples = [bytes(range(start, start + length)) for length in range(41) for start in (0, 200)] + [b"\xfb\xff" * 9]
    assert [tokens._base64(data) for data in samples] == [base64_encode(data) for data in samples]


SAMPLES = (
    ["", "a" * 32, "uid-with_dots.and-dashes", "Zoë", "a b", "x:y", "tab\there", "e\u0301", "٣"]
    + [chr(code) for code in range(0x250)]
    + ["\u2028", "\u2029", "\u00a0", "\ufeff", "\U0001f600"]
)


@pytest.mark.parametrize("value", SAMPLES)
def test_the_pattern_free_checks_agree_with_the_patterns_they_replace(value: str) -> None:
    """The per-message checks made without a regular expression (a tenth of a sending thread's instructions)
    decide as the patterns did: a token's plain value, a header value's unsafe characters, a header name."""
    assert tokens._plain(value) is bool(re.fullmatch(r"[A-Za-z0-9_.-]*", value))
    old_value = (
        value.strip()
        if headers._UNSAFE.search(value) is None and "  " not in value
        else headers._SPACES.sub(" ", headers._UNSAFE.sub(" ", value)).strip()
    )
    assert header_value(value) == old_value
    name_ok = bool(re.fullmatch(r"[!-9;-~]+", value))
    try:
        headers._check_name(value)
        assert name_ok
    except ValueError:
        assert not name_ok


def test_lines_that_start_with_a_dot_arrive_intact(write_config: Callable[..., Path], smtp) -> None:
    handler, port = smtp
    runtime = smtp_runtime_for(write_config, port)
    with runtime.sessions() as session, session.begin():
        make_item(session, ".dotted title", summary="<p>.\n.. starts with dots\n.</p>")
    queue_edition(runtime, 1)
    drain(runtime)
    transport = make_transport(runtime.config)
    try:  # a notice is not built dot-safe: the transport stuffs it
        send_notice(transport, runtime.config, Notice("a@example.org", "dots", "one\n.\n..two\n.\n"), None)
    finally:
        transport.close()
    runtime.close()
    edition, notice = handler.received[0].message, handler.received[-1].message
    assert ".. starts with dots" in edition.get_body(("plain",)).get_content()
    assert notice.get_content().replace("\r\n", "\n") == "one\n.\n..two\n.\n"


def test_the_worker_takes_the_outcomes_already_waiting_at_once_and_sees_a_failure_among_them() -> None:
    """One wake-up of the worker's loop takes every outcome waiting (up to RECORD_EVERY): a failure in the
    middle of them still makes the group be written at once (it may pause the edition)."""
    job = Job(1, 1, 1, 1, "active", Recipient(email="a@example.org", name=None, uid="u1"))
    results: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
    for result in ("sent", "retry", "sent"):
        results.put(Outcome(job, result))
    outcomes: list[Outcome] = []
    assert _collect(results, outcomes) is True
    assert [outcome.result for outcome in outcomes] == ["sent", "retry", "sent"]

    for _ in range(RECORD_EVERY + 5):
        results.put(Outcome(job, "sent"))
    assert _collect(results, outcomes) is False
    assert len(outcomes) == RECORD_EVERY  # the rest waits for the next wake-up
    assert results.qsize() == 8


class _CountedSocket:
    """A real socket whose sendmsg calls are counted, and those the kernel took only part of."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.calls = 0
        self.partial = 0

    def sendmsg(self, buffers: list[memoryview]) -> int:
        self.calls += 1
        sent = self.sock.sendmsg(buffers)
        self.partial += sent < sum(len(buffer) for buffer in buffers)
        return sent


def test_gathered_pieces_arrive_whole_and_in_order_when_the_kernel_takes_part_of_them() -> None:
    """send_gathered offers the pieces with sendmsg; with a send buffer far smaller than the message the
    kernel takes part of it at a time, and the rest (from the middle of a piece) is offered again."""
    pieces = [bytes([65 + n % 26]) * (1000 + 7919 * n) for n in range(12)] + [b"", b".\r\n"]
    sending, receiving = socket.socketpair()
    sending.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sending.settimeout(30)  # as smtplib's sockets are: a write waits for room
    received = bytearray()

    def read_all() -> None:
        while chunk := receiving.recv(1000):
            received.extend(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    counted = _CountedSocket(sending)
    with sending:
        send_gathered(counted, pieces)  # type: ignore[arg-type]
        sending.shutdown(socket.SHUT_WR)
        reader.join(timeout=60)
    receiving.close()
    assert bytes(received) == b"".join(pieces)
    assert counted.partial >= 1 and counted.calls > counted.partial  # the rest was offered again, and went
