"""Sending benchmark (not a test): prints figures, asserts nothing.

One 30-item digest (about 70 KB of HTML plus the text part) goes to N subscribers through
Postfix's `smtp-sink` on loopback, three ways, in one run:

  (a) ours: `Worker.drain()` (the code of `digest worker --drain`) in a child process, with
      mail.smtp.pool_size connections; its peak memory is that process's maximum RSS;
  (b) Postfix's `smtp-source`: the same number of messages of the same size over the same number
      of connections (-d: kept open, as ours are);
  (c) a naive loop: an `email.message.EmailMessage` built per recipient from the frozen HTML and
      text, sent with one `smtplib.SMTP` connection.

    .venv/bin/python bench/send.py [--subscribers 20000] [--pool-size 4] [--batch-size 500]
                                   [--dkim] [--database-url URL]

Needs smtp-sink and smtp-source (Debian package `postfix`; install it without configuring it:
`echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections &&
DEBIAN_FRONTEND=noninteractive apt-get install -y postfix`). No Postfix daemon is used.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import yaml
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.audit import SYSTEM  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.db import transaction, upgrade  # noqa: E402
from digest.delivery.ledger import start_sending  # noqa: E402
from digest.delivery.worker import Worker  # noqa: E402
from digest.editions.lifecycle import create_edition  # noqa: E402
from digest.models import Edition, Item, Subscriber, new_uid  # noqa: E402
from digest.rendering.render import personalise  # noqa: E402
from digest.runtime import Runtime  # noqa: E402
from digest.subscribers.preferences import make_preferences, preference_keys  # noqa: E402
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


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--dkim", action="store_true", help="sign every message (generates a key with openssl)")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--child-worker", default=None, help=argparse.SUPPRESS)  # internal: run (a) in this process
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    if arguments.child_worker:
        run_worker(Path(arguments.child_worker))
        return
    for tool in ("smtp-sink", "smtp-source"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} not found: install the Debian package postfix (see this file's docstring)")
    with tempfile.TemporaryDirectory() as folder:
        config_path = write_config(Path(folder), arguments)
        runtime = Runtime(load_config(config_path, environ={}))
        upgrade(runtime.engine)
        started = time.perf_counter()
        edition_id = prepare(runtime, arguments.subscribers)
        setup_seconds = time.perf_counter() - started
        print(f"setup: {arguments.subscribers:,} subscribers and the edition queued in {setup_seconds:.1f} s")
        sample, html_size, text_size = sample_message(runtime, edition_id)
        print(
            f"message: HTML {html_size / 1024:.1f} KB, text {text_size / 1024:.1f} KB, "
            f"{len(sample) / 1024:.1f} KB as sent (quoted-printable, headers{', DKIM' if arguments.dkim else ''})"
        )
        with smtp_sink(runtime.config.mail.smtp.port):
            ours = ours_in_child(config_path)
            source = smtp_source(runtime.config.mail.smtp.port, arguments.subscribers, arguments.pool_size, len(sample))
            naive = naive_loop(runtime, edition_id, runtime.config.mail.smtp.port)
        runtime.close()
    report(arguments, ours, source, naive)


# --------------------------------------------------------------------------- setup


def write_config(folder: Path, arguments: argparse.Namespace) -> Path:
    port = free_port()
    mail: dict = {
        "from": SENDER,
        "transport": "smtp",
        "smtp": {"host": "127.0.0.1", "port": port, "pool_size": arguments.pool_size, "timeout_seconds": 60},
    }
    if arguments.dkim:
        key = folder / "dkim.pem"
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True, capture_output=True)
        mail["dkim"] = {"domain": "clusters.example.eu", "selector": "bench", "private_key_file": str(key)}
    settings = {
        "site": {"name": "European Cluster Collaboration Platform", "base_url": "https://clusters.example.eu"},
        "database": {"url": arguments.database_url or f"sqlite:///{folder / 'bench.db'}"},
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


def sample_message(runtime: Runtime, edition_id: int) -> tuple[bytes, int, int]:
    worker = Worker(runtime)
    with runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        message = worker._message(edition)
        sizes = len(edition.html.encode()), len(edition.text.encode())
    from digest.delivery.message import Recipient

    sample = message.build(Recipient("reader1@subscribers.example.org", "Reader 1", new_uid()), 1)
    worker.close()
    return sample, *sizes


# --------------------------------------------------------------------------- the three senders


def run_worker(config_path: Path) -> None:
    """(a), in the child: drain the queue and report time, count and peak memory as JSON."""
    runtime = Runtime(load_config(config_path, environ={}))
    worker = Worker(runtime)
    started = time.perf_counter()
    stats = worker.drain()
    elapsed = time.perf_counter() - started
    worker.close()
    peak = peak_rss()
    print(json.dumps({"sent": stats.sent, "failed": stats.failed, "seconds": elapsed, "peak_bytes": peak}))


def peak_rss() -> int:
    """This process's peak resident memory, in bytes. VmHWM, not ru_maxrss: Linux carries ru_maxrss over
    fork and exec, so a child would report its parent's size (here, the setup's 100,000 subscribers)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def ours_in_child(config_path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child-worker", str(config_path)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


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
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return {"sent": messages, "seconds": time.perf_counter() - started}


def naive_loop(runtime: Runtime, edition_id: int, port: int) -> dict:
    """(c): what a first version might do — build every message from scratch, one connection."""
    with runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        html, text, subject = edition.html, edition.text, edition.subject
        people = session.execute(
            Subscriber.__table__.select().with_only_columns(Subscriber.email, Subscriber.name, Subscriber.uid)
        ).all()
    base = runtime.config.site.base_url
    started = time.perf_counter()
    connection = smtplib.SMTP("127.0.0.1", port, timeout=60)
    for number, (email, name, uid) in enumerate(people):
        values = {"name": name, "unsubscribe_url": f"{base}/unsubscribe/{uid}", "preferences_url": f"{base}/p/{uid}"}
        message = EmailMessage()
        message["From"] = SENDER
        message["To"] = f"{name} <{email}>"
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = f"<naive-{number}@clusters.example.eu>"
        message["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(personalise(text, values))
        message.add_alternative(personalise(html, values), subtype="html")
        connection.sendmail("digest@clusters.example.eu", [email], message.as_bytes())
    connection.quit()
    return {"sent": len(people), "seconds": time.perf_counter() - started}


# --------------------------------------------------------------------------- plumbing and report


@contextmanager
def smtp_sink(port: int) -> Iterator[None]:
    sink = subprocess.Popen(
        [_tool("smtp-sink"), "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def report(arguments: argparse.Namespace, ours: dict, source: dict, naive: dict) -> None:
    rates = {
        name: run["sent"] / run["seconds"] for name, run in (("ours", ours), ("smtp-source", source), ("naive", naive))
    }
    print(
        f"\n{arguments.subscribers:,} messages, {arguments.pool_size} connections, batch {arguments.batch_size}"
        f"{', DKIM-signed' if arguments.dkim else ''}:"
    )
    for name, run in (("ours (digest worker)", ours), ("smtp-source", source), ("naive loop (1 connection)", naive)):
        rate = run["sent"] / run["seconds"]
        print(f"  {name:<27} {run['sent']:>8,} sent in {run['seconds']:7.1f} s  {rate:8,.0f} msg/s")
    print(f"  ours / smtp-source:  {rates['ours'] / rates['smtp-source']:.2f}  (goal: at least 0.50)")
    print(f"  ours / naive loop:   {rates['ours'] / rates['naive']:.1f}×  (goal: at least 3×)")
    print(
        f"  our peak memory:     {ours['peak_bytes'] / 2**20:.0f} MB  (worker process, maximum RSS; goal: under 250 MB)"
    )
    if ours.get("failed"):
        print(f"  (ours: {ours['failed']} failed)")


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


if __name__ == "__main__":
    os.environ.pop("DIGEST_CONFIG", None)
    main()
