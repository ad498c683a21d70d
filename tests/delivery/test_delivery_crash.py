"""The worker killed in the middle of an edition, and several workers on one edition (PostgreSQL and SQLite).

The SMTP server runs in a process of its own and appends every accepted message to a file, so
what it received is known whatever happens to the worker. The worker is the real
`digest worker --drain` in a child process, killed with SIGKILL (no chance to clean up).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from digest.models import Delivery, Edition, Subscriber
from digest.runtime import Runtime
from tests.cli import DIGEST
from tests.delivery_helpers import queue_edition, smtp_runtime_for, statuses
from tests.smtpserver import read_record, smtp_server_process

BATCH = 20


def start_worker(config: Path) -> subprocess.Popen[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    return subprocess.Popen(
        [*DIGEST, "worker", "--drain", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def wait_for_messages(record: Path, count: int, worker: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(read_record(record)) < count:
        assert worker.poll() is None, f"the worker ended early: {worker.communicate()}"
        assert time.monotonic() < deadline, "the worker sent too little in time"
        time.sleep(0.01)


def in_flight(runtime: Runtime, edition_id: int) -> set[str]:
    """Whose deliveries were claimed but not recorded: what a restart may send again."""
    with runtime.sessions() as session:
        rows = session.scalars(
            select(Subscriber.email)
            .join(Delivery.subscriber)
            .where(Delivery.edition_id == edition_id, Delivery.status == "sending")
        )
        return set(rows)


def test_a_worker_killed_mid_edition_and_restarted_delivers_to_everyone(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    record = tmp_path / "received.jsonl"
    with smtp_server_process(record, delay=0.004) as port:
        runtime = smtp_runtime_for(
            write_config, port, smtp={"pool_size": 2}, delivery={"batch_size": BATCH, "lease_seconds": 5}
        )
        edition_id, readers = queue_edition(runtime, 240)
        may_repeat: set[str] = set()
        held_at_kills: list[set[str]] = []
        for killed_after in (40, 150):  # twice: early, and again well into the edition
            worker = start_worker(runtime.config.path)
            wait_for_messages(record, killed_after, worker)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            held = in_flight(runtime, edition_id)
            # At most what it held: the batch being sent (its records lag by a fraction of a second) and the
            # one claimed ahead of it.
            assert len(held - may_repeat) <= 2 * BATCH
            held_at_kills.append(held)
            may_repeat |= held
        finished = start_worker(runtime.config.path)  # waits out the dead workers' leases, then sends the rest
        _, stderr = finished.communicate(timeout=120)
        assert finished.returncode == 0, stderr

        received = Counter(address for message in read_record(record) for address in message["recipients"])
        assert set(received) == set(readers)  # nobody missed, nobody else
        repeated = {address for address, times in received.items() if times > 1}
        assert repeated <= may_repeat  # only what was in flight when a worker died
        for address, times in received.items():  # once, plus once for each kill that found it in flight
            assert times <= 1 + sum(address in held for held in held_at_kills), address
        assert set(statuses(runtime, edition_id).values()) == {"sent"}
        with runtime.sessions() as session:
            assert session.get(Edition, edition_id).status == "sent"
        runtime.close()


def test_two_workers_share_one_edition_without_a_duplicate(write_config: Callable[..., Path], tmp_path: Path) -> None:
    """On PostgreSQL the claims skip each other's rows (SKIP LOCKED); on SQLite they take turns."""
    record = tmp_path / "received.jsonl"
    with smtp_server_process(record, delay=0.004) as port:
        runtime = smtp_runtime_for(write_config, port, smtp={"pool_size": 2}, delivery={"batch_size": 10})
        edition_id, readers = queue_edition(runtime, 400)
        workers = [start_worker(runtime.config.path) for _ in range(2)]
        outputs = [worker.communicate(timeout=120) for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0], outputs

        received = Counter(address for message in read_record(record) for address in message["recipients"])
        assert sorted(received) == sorted(readers) and set(received.values()) == {1}
        sent_by = [int(stdout.split("worker: ", 1)[1].split(" sent")[0]) for stdout, _ in outputs]
        assert sum(sent_by) == 400 and min(sent_by) > 0, sent_by  # both took a share
        assert set(statuses(runtime, edition_id).values()) == {"sent"}
        runtime.close()
