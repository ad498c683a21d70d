"""Sending benchmark (not a test): prints figures, asserts nothing.

One 30-item digest (about 70 KB of HTML plus the text part, ~94 KB as sent) goes to N subscribers
through Postfix's `smtp-sink` on loopback. The contenders run interleaved over --rounds rounds (the
order rotated each round), each timed as a whole process tree from start to exit:

  ours       `digest worker --drain` as users start it (a child process: its imports and start-up
             count), mail.smtp.pool_size connections; --workers N adds "ours ×N": N such workers at
             once on one edition (PostgreSQL: pass --database-url);
  smtp-source  Postfix's `smtp-source`: the same number of messages of the same size over the same
             number of connections (-d: kept open, as ours are);
  today      with --today REV: `digest worker --drain` of that git revision (say, the integrator's
             tree before this change), on the same database with that revision's schema, for CPU
             per message against today's code.

Before each run of a worker the edition's deliveries are queued again. Printed: each run, then
medians with their range, CPU per message, the peak memory of the process tree, what the machine did
beside each run (smtp-sink's CPU per message, the rest's: PostgreSQL and the kernel's loopback work
outside these processes, and the share of the cores left idle), and the ratios (ours / smtp-source per
worker; ours ×N / ours, and the most it could be had all the cores been busy; our CPU per message
against today's), with the load average at every run: the machine is shared.

    .venv/bin/python bench/send.py [--subscribers 20000] [--rounds 3] [--pool-size 4] [--batch-size 500]
                                   [--dkim] [--workers 2] [--database-url URL] [--today REV]

Needs smtp-sink and smtp-source (Debian package `postfix`; no Postfix daemon is used).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import insert, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import interleaved, load_average, run_processes, spread  # noqa: E402
from digest.audit import SYSTEM  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.db import transaction, upgrade  # noqa: E402
from digest.delivery.ledger import start_sending  # noqa: E402
from digest.editions.lifecycle import create_edition  # noqa: E402
from digest.models import Delivery, Edition, Item, Subscriber, new_uid  # noqa: E402
from digest.runtime import Runtime  # noqa: E402
from digest.subscribers.preferences import make_preferences, preference_keys  # noqa: E402
from tests.databases import scratch_database  # noqa: E402
from tests.smtpserver import free_port, wait_for_port  # noqa: E402

SENDER = "ECCP Digest <digest@clusters.example.eu>"
KINDS = ("news", "news", "event", "call", "achievement")
SUMMARY = (
    "<p>The <strong>{n}th cluster partnership</strong> brings together SMEs, research centres and regional "
    "authorities from across Europe to scale up hydrogen valleys, circular textiles and digital health. "
    "Members share pilot lines, test beds and export missions; the call for expressions of interest is open "
    "to organisations in every EU member state and COSME country.</p>"
    "<p>Read the full story on the platform, with the list of partners, the timeline of the joint actions and "
    "the contacts of the cluster managers who coordinate the European Strategic Cluster Partnership.</p>"
    "<p>Next steps: a matchmaking day in Brussels, an online info session for applicants, and a call for "
    "vouchers worth up to EUR 60,000 per SME for innovation, internationalisation and green transition.</p>"
)
SINK: list[int] = []  # the running smtp-sink's process id, read for its CPU beside each run
CLAIM_INDEXES = {
    "ix_deliveries_queued": "ON deliveries (id) WHERE status = 'queued'",
    "ix_deliveries_sending": "ON deliveries (claimed_at) WHERE status = 'sending'",
}


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1, help="also run this many workers at once (PostgreSQL)")
    parser.add_argument("--dkim", action="store_true", help="sign every message (generates a key with openssl)")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--today", default=None, metavar="REV", help="also time this git revision's worker")
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    for tool in ("smtp-sink", "smtp-source"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} not found: install the Debian package postfix (see this file's docstring)")
    with tempfile.TemporaryDirectory() as name, scratch_database(Path(name), arguments.database_url, "send") as url:
        folder = Path(name)
        config_path = write_config(folder, arguments, url)
        runtime = Runtime(load_config(config_path, environ={}))
        upgrade(runtime.engine)
        started = time.perf_counter()
        edition_id = prepare(runtime, arguments.subscribers)
        seconds = time.perf_counter() - started
        print(f"setup: {arguments.subscribers:,} subscribers and the edition queued in {seconds:.1f} s")
        size = sample_size(runtime, config_path, edition_id, folder)
        print(f"message: {size / 1024:.1f} KB as sent ({'DKIM-signed, ' if arguments.dkim else ''}quoted-printable)")
        today = checkout(arguments.today, folder / "today") if arguments.today else None
        for tree in (ROOT, today):
            if tree is not None:
                compiled(tree)
        port = runtime.config.mail.smtp.port
        contenders: dict[str, Callable[[], dict]] = {
            "ours": lambda: workers(runtime, edition_id, config_path, 1),
            "smtp-source": lambda: smtp_source(port, arguments.subscribers, arguments.pool_size, size),
        }
        if arguments.workers > 1:
            contenders[f"ours ×{arguments.workers}"] = lambda: workers(
                runtime, edition_id, config_path, arguments.workers
            )
        if today is not None:
            contenders["today"] = lambda: todays_worker(runtime, edition_id, config_path, today)
        print(f"\n{arguments.rounds} rounds, load average at the start {load_average()}:")
        with smtp_sink(port):
            results = interleaved(contenders, arguments.rounds)
        runtime.close()
    report(arguments, size, results)


# --------------------------------------------------------------------------- setup


def write_config(folder: Path, arguments: argparse.Namespace, database_url: str) -> Path:
    port = free_port()
    mail: dict = {
        "from": SENDER,
        "transport": "smtp",
        "smtp": {"host": "127.0.0.1", "port": port, "pool_size": arguments.pool_size, "timeout_seconds": 60},
        "unsubscribe_mailbox": "unsubscribe@clusters.example.eu",
    }
    if arguments.dkim:
        key = folder / "dkim.pem"
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True, capture_output=True)
        mail["dkim"] = {"domain": "clusters.example.eu", "selector": "bench", "private_key_file": str(key)}
    settings = {
        "site": {"name": "European Cluster Collaboration Platform", "base_url": "https://clusters.example.eu"},
        "database": {"url": database_url},
        "secret_key": "bench-secret-key-0123456789abcdef",
        "mail": mail,
        "delivery": {"batch_size": arguments.batch_size, "lease_seconds": 300},
        "sources": [],
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def prepare(runtime: Runtime, subscribers: int) -> int:
    now = datetime.now(UTC)
    editions_key, topics_key = preference_keys(make_preferences())
    with transaction(runtime.sessions) as session:
        for n in range(30):
            kind = KINDS[n % len(KINDS)]
            extra: dict = {}
            if kind == "event":
                extra = {
                    "starts_at": now + timedelta(days=10 + n),
                    "ends_at": now + timedelta(days=11 + n),
                    "location": "Brussels, Belgium",
                    "timezone": "Europe/Brussels",
                }
            if kind == "call":
                extra = {"deadline": now + timedelta(days=20 + n)}
            session.add(
                Item(
                    kind=kind,
                    status="approved",
                    title=f"Cluster partnership number {n} scales up hydrogen, textiles and health across Europe",
                    image_url=f"https://clusters.example.eu/images/partnership-{n}.jpg" if n % 5 < 3 else None,
                    summary=SUMMARY.format(n=n),
                    url=f"https://clusters.example.eu/news/{n}",
                    organisation="European Cluster Collaboration Platform",
                    country="Belgium",
                    published_at=now - timedelta(days=1),
                    origin="feed",
                    dedup_key=f"bench-{n}",
                    content_hash=f"bench-{n}",
                    **extra,
                )
            )
        # Core inserts (the preference columns written directly): the ORM's per-object events are not benchmarked.
        rows = [
            {
                "uid": new_uid(),
                "email": f"reader{n}@subscribers.example.org",
                "name": f"Reader {n}",
                "status": "active",
                "preferences": make_preferences(),
                "language": "en",
                "created_at": now,
                "wanted_editions": editions_key,
                "wanted_topics": topics_key,
            }
            for n in range(subscribers)
        ]
        for start in range(0, len(rows), 5000):
            session.execute(insert(Subscriber), rows[start : start + 5000])
    with transaction(runtime.sessions) as session:
        edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        start_sending(session, runtime.config, edition.id)
        return edition.id


def sample_size(runtime: Runtime, config_path: Path, edition_id: int, folder: Path) -> int:
    """The size of one message as sent: one delivery through the outbox transport, then queued again."""
    outbox = folder / "sample-outbox"
    settings = yaml.safe_load(config_path.read_text())
    settings["mail"] = settings["mail"] | {"transport": "outbox", "outbox_dir": str(outbox)}
    settings["delivery"] = settings["delivery"] | {"batch_size": 1}
    sample_config = folder / "sample.yaml"
    sample_config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    from digest.delivery.worker import Worker

    sampler = Runtime(load_config(sample_config, environ={}))
    worker = Worker(sampler)
    worker.run_once()
    worker.close()
    sampler.close()
    requeue(runtime, edition_id)
    return max(path.stat().st_size for path in outbox.glob("*.eml"))


def requeue(runtime: Runtime, edition_id: int) -> None:
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Delivery)
            .where(Delivery.edition_id == edition_id)
            .values(status="queued", attempts=0, claimed_at=None, sent_at=None, message_id=None, next_attempt_at=None)
        )
        session.execute(update(Edition).where(Edition.id == edition_id).values(status="sending", sent_at=None))
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE deliveries"))


# --------------------------------------------------------------------------- the contenders


@contextmanager
def beside() -> Iterator[dict]:
    """What the machine did while a contender ran: the receiving smtp-sink's CPU, and the seconds all the
    cores were busy and idle (/proc/stat). Busy minus the contender's own CPU and the sink's is the rest:
    PostgreSQL, the kernel's loopback work outside those processes, anything else running."""
    usage: dict = {}
    (busy, idle), sink = _machine(), _sink_cpu()
    yield usage
    (busy_after, idle_after), sink_after = _machine(), _sink_cpu()
    usage |= {"busy": busy_after - busy, "idle": idle_after - idle, "sink": sink_after - sink}


def _stat_seconds(fields: list[int]) -> float:
    return sum(fields) / os.sysconf("SC_CLK_TCK")


def _machine() -> tuple[float, float]:
    """Seconds all the cores have been busy and idle since boot, read at one instant (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        user, nice, system, idle, iowait, irq, softirq = map(int, stat.readline().split()[1:8])
    return _stat_seconds([user, nice, system, irq, softirq]), _stat_seconds([idle, iowait])


def _sink_cpu() -> float:
    with open(f"/proc/{SINK[0]}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    return _stat_seconds([int(fields[11]), int(fields[12])])  # utime, stime


def _environment(pythonpath: Path | None = None) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    if pythonpath is not None:
        environment["PYTHONPATH"] = str(pythonpath)
    return environment


def compiled(tree: Path) -> None:
    """Byte-compile a tree's packages before the rounds, as an installed package is: otherwise a contender
    whose tree has no __pycache__ (PYTHONDONTWRITEBYTECODE, a fresh checkout) compiles its modules in every run."""
    packages = [str(tree / name) for name in ("digest", "sources", "scheduler", "archive") if (tree / name).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True, capture_output=True)


def workers(runtime: Runtime, edition_id: int, config_path: Path, count: int, tree: Path | None = None) -> dict:
    """`digest worker --drain` × count, started at once as a user would, until all have exited."""
    requeue(runtime, edition_id)
    command = [sys.executable, "-m", "digest", "worker", "--drain", "--config", str(config_path)]
    with beside() as usage:
        run = run_processes([command] * count, env=_environment(tree), cwd=config_path.parent)
    sent = sum(int(re.search(r"worker: (\d+) sent", output)[1]) for output in run.outputs)
    timed = {"sent": sent, "seconds": run.seconds, "cpu": run.cpu_seconds, "peak": run.peak_bytes, "workers": count}
    return timed | usage


def todays_worker(runtime: Runtime, edition_id: int, config_path: Path, tree: Path) -> dict:
    """The worker of the --today revision, on the schema it knows (without migration 0004's indexes), with
    the settings it knows."""
    settings = yaml.safe_load(config_path.read_text())
    settings["mail"].pop("unsubscribe_mailbox", None)
    config_path = config_path.with_name("config-today.yaml")
    config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    with runtime.engine.begin() as connection:
        head = connection.scalar(text("SELECT version_num FROM alembic_version"))
        for index in CLAIM_INDEXES:
            connection.execute(text(f"DROP INDEX {index}"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    try:
        return workers(runtime, edition_id, config_path, 1, tree)
    finally:
        with runtime.engine.begin() as connection:
            for index, definition in CLAIM_INDEXES.items():
                connection.execute(text(f"CREATE INDEX {index} {definition}"))
            connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})


def checkout(revision: str, folder: Path) -> Path:
    """A copy of the repository at `revision` (git archive: the working tree is not touched)."""
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def smtp_source(port: int, messages: int, connections: int, size: int) -> dict:
    command = [
        _tool("smtp-source"),
        "-d",
        "-s",
        str(connections),
        "-m",
        str(messages),
        "-l",
        str(size),
        "-f",
        "digest@clusters.example.eu",
        "-t",
        "reader@subscribers.example.org",
        f"127.0.0.1:{port}",
    ]
    with beside() as usage:
        run = run_processes([command])
    timed = {"sent": messages, "seconds": run.seconds, "cpu": run.cpu_seconds, "peak": run.peak_bytes, "workers": 1}
    return timed | usage


# --------------------------------------------------------------------------- plumbing and report


@contextmanager
def smtp_sink(port: int) -> Iterator[None]:
    sink = subprocess.Popen(
        [_tool("smtp-sink"), "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    SINK[:] = [sink.pid]
    try:
        wait_for_port(port)
        yield
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def report(arguments: argparse.Namespace, size: int, results: dict[str, list[dict]]) -> None:
    print(
        f"\n{arguments.subscribers:,} messages of {size / 1024:.1f} KB, {arguments.pool_size} connections per sender, "
        f"batch {arguments.batch_size}{', DKIM-signed' if arguments.dkim else ''}; medians (range) of "
        f"{arguments.rounds} rounds; load average now {load_average()}:"
    )
    print(f"  {'':<14} {'msg/s':>22} {'msg/s per worker':>22} {'CPU ms/msg':>20} {'peak MB (tree)':>18}")
    for name, runs in results.items():
        rates = [run["sent"] / run["seconds"] for run in runs]
        per_worker = [rate / run["workers"] for rate, run in zip(rates, runs, strict=True)]
        cpu = [run["cpu"] * 1000 / run["sent"] for run in runs]
        peak = [run["peak"] / 2**20 for run in runs]
        columns = f"{spread(rates):>22} {spread(per_worker):>22} {spread(cpu, digits=3):>20} {spread(peak):>18}"
        print(f"  {name:<14} {columns}")
    beside_report(results)
    ratio("ours / smtp-source (per worker)", results["ours"], results["smtp-source"], "goal: ≥ 0.25 signed")
    if arguments.workers > 1:
        several = f"ours ×{arguments.workers}"
        ratio(f"{several} / ours", results[several], results["ours"], "goal: ≥ 1.7")
        ceiling(several, results[several], results["ours"])
    if "today" in results:
        ours = [run["cpu"] / run["sent"] for run in results["ours"]]
        today = [run["cpu"] / run["sent"] for run in results["today"]]
        change = [(1 - a / b) * 100 for a, b in zip(ours, today, strict=True)]
        print(f"  our CPU per message vs today's: −{spread(change, '%', 1)} (round by round; goal: −40%)")


def beside_report(results: dict[str, list[dict]]) -> None:
    """Per message, the CPU of the receiving side and of the rest of the machine during each contender's runs,
    and how much of the machine stayed idle."""
    cores = os.cpu_count() or 1
    print(f"  beside each run, per message ({cores} cores):")
    print(f"  {'':<14} {'smtp-sink CPU ms':>22} {'the rest CPU ms':>22} {'machine idle':>20}")
    for name, runs in results.items():
        sink = [run["sink"] * 1000 / run["sent"] for run in runs]
        rest = [max(0.0, run["busy"] - run["cpu"] - run["sink"]) * 1000 / run["sent"] for run in runs]
        idle = [min(100.0, run["idle"] * 100 / (cores * run["seconds"])) for run in runs]
        print(f"  {name:<14} {spread(sink, digits=3):>22} {spread(rest, digits=3):>22} {spread(idle, '%'):>20}")


def ceiling(several: str, mine: list[dict], ours: list[dict]) -> None:
    """What `several` workers could send, paired by round with one, had every core been as busy for them as
    the CPU their runs took (theirs, the sink's and the rest) allows: messages × cores / busy seconds."""
    cores = os.cpu_count() or 1
    pairs = [(a["sent"] * cores / a["busy"]) / (b["sent"] / b["seconds"]) for a, b in zip(mine, ours, strict=True)]
    print(f"  {several} / ours with all {cores} cores busy: at most {spread(pairs, digits=2)}")


def ratio(label: str, mine: list[dict], theirs: list[dict], goal: str) -> None:
    """Paired by round (each pair ran side by side), then the median and the range of the pairs."""
    pairs = [(a["sent"] / a["seconds"]) / (b["sent"] / b["seconds"]) for a, b in zip(mine, theirs, strict=True)]
    print(f"  {label}: {spread(pairs, digits=2)}  ({goal}; median of pairs {statistics.median(pairs):.2f})")


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


if __name__ == "__main__":
    os.environ.pop("DIGEST_CONFIG", None)
    main()
