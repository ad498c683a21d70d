"""Web app benchmark (not a test): prints figures, asserts nothing.

Fills a fresh database with an archive (EDITIONS sent editions of ITEMS published items each) and the
editors' data (10,000 items of every status, kind and origin, 20,000 subscribers, a 40-item
newsletter), starts `digest serve` (waitress, `web.threads`) in a process of its own, and beside it a
trivial waitress app (same thread count) answering the bytes of one archive page. wrk, in a third
process, then drives each contender at CONNECTIONS concurrent connections for SECONDS; the contenders
are interleaved, in a rotated order, over ROUNDS rounds. Printed per contender: the medians and the
range over the rounds of requests/s, p50 and p95, the load average around each round, and the
"Task queue depth" warnings waitress logged; then the ratios the README quotes.

    .venv/bin/python bench/web.py [--rounds 3] [--seconds 5] [--connections 8] [--editions 200]
                                  [--items 40] [--threads N] [--identity] [--database-url URL]

Every request says `Accept-Encoding: gzip` as browsers and feed readers do (the anchor then serves
the same gzipped bytes); --identity measures uncompressed answers.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from archive_bench import fill as fill_archive
from common import bench_runtime
from sqlalchemy import insert, select

from digest.audit import SYSTEM
from digest.db import transaction
from digest.editions.newsletter import create_newsletter
from digest.editors.accounts import add_editor
from digest.models import Item, Source, Submission, Subscriber
from digest.runtime import Runtime
from tests.databases import scratch_database

WORDS = (
    *("cluster", "innovation", "energy", "hydrogen", "mobility", "textile", "agrifood", "health", "digital"),
    *("aerospace", "maritime", "partnership", "mission", "matchmaking", "SMEs", "vouchers", "region", "network"),
)
COUNTRIES = ("Belgium", "Spain", "France", "Sweden", "Portugal", "Poland", "Italy", "Germany", "Greece", "Austria")
KINDS = ("news", "event", "call", "achievement")
STATUSES = ("pending",) * 3 + ("approved",) * 2 + ("rejected", "published", "published", "expired")
EMAIL, PASSWORD = "editor@bench.example.org", "bench password 123"
ANCHOR = "trivial waitress, same bytes"
LISTENING = re.compile(r"open (http://[^/\s]+)/")

# wrk's own report has no p95: this prints what the bench reads, in one line.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration, errors,
    latency:percentile(50), latency:percentile(95), summary.bytes))
end
"""

# The anchor: the least a WSGI app under waitress can do to answer the same bytes.
TRIVIAL_APP = """
import sys
from waitress import serve
body = open(sys.argv[1], "rb").read()
headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
headers += [("Content-Encoding", sys.argv[4])] if len(sys.argv) > 4 else []
def app(environ, start_response):
    start_response("200 OK", headers)
    return [body]
serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=int(sys.argv[3]))
"""


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def fill_editors(runtime: Runtime, items: int, subscribers: int) -> int:
    """The editors' data; returns the id of a 40-item newsletter draft."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    with transaction(runtime.sessions) as session:
        add_editor(session, SYSTEM, EMAIL, PASSWORD, role="admin")
        session.execute(
            insert(Source), [{"name": f"Feed {n}", "url": f"https://feeds.example.eu/{n}.rss", "kind": "auto",
                              "enabled": True, "consecutive_errors": 0} for n in range(20)]
        )  # fmt: skip
        source_ids = list(session.scalars(select(Source.id)))
        rows = []
        for number in range(items):
            kind = KINDS[number % 4]
            title = f"{sentence(rng, 7).capitalize()} q{number}"
            key = hashlib.sha256(title.encode()).hexdigest()
            collected = now - timedelta(minutes=number * 7)
            submitted = number % 10 == 0
            rows.append(
                {
                    "kind": kind,
                    "status": rng.choice(STATUSES),
                    "title": title,
                    "summary": f"<p>{sentence(rng, 45)}.</p>",
                    "url": f"https://clusters.example.eu/{key[:12]}",
                    "organisation": f"{rng.choice(WORDS).title()} Cluster",
                    "country": rng.choice(COUNTRIES),
                    "topics": [],
                    "published_at": collected - timedelta(hours=3),
                    "collected_at": collected,
                    "updated_at": collected,
                    "starts_at": now + timedelta(days=rng.randint(1, 90)) if kind == "event" else None,
                    "ends_at": None,
                    "location": "Brussels, Belgium" if kind == "event" else None,
                    "deadline": now + timedelta(days=rng.randint(-10, 90)) if kind == "call" else None,
                    "origin": "submission" if submitted else "feed",
                    "source_id": None if submitted else rng.choice(source_ids),
                    "dedup_key": key,
                    "content_hash": key,
                    "featured": number % 50 == 0,
                }
            )
        session.execute(insert(Item), rows)
        submitted_ids = session.scalars(select(Item.id).where(Item.origin == "submission")).all()
        session.execute(
            insert(Submission),
            [{"organisation": "Bench Cluster", "contact_name": f"Contact {n}", "contact_email": f"c{n}@bench.test",
              "kind": "news", "payload": {}, "status": "accepted", "item_id": item_id, "created_at": now}
             for n, item_id in enumerate(submitted_ids)],
        )  # fmt: skip
        session.execute(
            insert(Subscriber),
            [{"uid": f"{n:032x}", "email": f"reader{n}@bench.test", "name": f"Reader {n}", "status": "active",
              "preferences": {}, "language": "en", "created_at": now, "wanted_editions": "|digest|newsletter|",
              "wanted_topics": ""} for n in range(subscribers)],
        )  # fmt: skip
        chosen = session.scalars(
            select(Item.id).where(Item.status == "approved", Item.kind != "call").order_by(Item.id).limit(40)
        ).all()
        sections = [("Spotlight", chosen[:4]), ("News and events", chosen[4:28]), ("Achievements", chosen[28:])]
        edition = create_newsletter(session, "Europe/Brussels", title="Bench newsletter", sections=sections)
        return edition.id


def session_cookie(base: str) -> str:
    """An editor's session cookie, logged in over HTTP, for wrk's requests to the editors' pages."""
    client = requests.Session()
    page = client.get(f"{base}/editor/login", timeout=30).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(f"{base}/editor/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    response.raise_for_status()
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


class Server:
    """A server in a process of its own, its output read (and the waitress warnings counted) in a thread."""

    def __init__(self, command: list[str], base: str | None = None) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.base = base
        self.queue_warnings = 0
        self._found = threading.Event()
        if base is not None:
            self._found.set()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._found.wait(timeout=120) or self.base is None:
            self.stop()
            raise SystemExit(f"{command[:4]} never said where it listens")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = LISTENING.search(line)
            if match and self.base is None:
                self.base = match.group(1)
            if "Task queue depth" in line:
                self.queue_warnings += 1
            if self.base is not None:
                self._found.set()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def fetch_raw(url: str, headers: list[str]) -> tuple[bytes, str | None]:
    """The bytes as sent (not decompressed) and their Content-Encoding."""
    answer = requests.get(url, headers=dict(h.split(": ", 1) for h in headers), timeout=300, stream=True)
    answer.raise_for_status()
    return answer.raw.read(decode_content=False), answer.headers.get("Content-Encoding")


def wait_until_up(url: str) -> None:
    for _ in range(300):
        try:
            requests.get(url, timeout=5)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{url} never answered")


@dataclass
class Figures:
    rates: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p95: list[float] = field(default_factory=list)
    errors: int = 0
    size: int = 0
    queue_warnings: int = 0


def wrk(url: str, connections: int, seconds: int, script: Path, headers: list[str]) -> tuple[float, float, float, int]:
    """requests/s, p50 ms, p95 ms, errors (non-2xx/3xx included) of one wrk run."""
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "-s", str(script)]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", output)
    if match is None:
        raise SystemExit(f"wrk said:\n{output}")
    count, micros, errors, p50, p95, _ = (int(value) for value in match.groups())
    return count / (micros / 1e6), p50 / 1000, p95 / 1000, errors


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    return f"{statistics.median(values):,.{digits}f} {unit} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("rounds", 3), ("seconds", 5), ("connections", 8), ("editions", 200), ("items", 40)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--threads", type=int, default=None, help="web.threads (default: the product's default)")
    parser.add_argument("--queue-items", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--identity", action="store_true", help="send no Accept-Encoding (uncompressed answers)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as name, scratch_database(Path(name), args.database_url, "bench") as url:
        folder = Path(name)
        web = {"threads": args.threads} if args.threads else {}
        runtime = bench_runtime(folder, url, web=web)
        started = time.perf_counter()
        fill_archive(runtime, args.editions, args.items)
        edition_id = fill_editors(runtime, args.queue_items, args.subscribers)
        threads = runtime.config.web.threads
        print(
            f"filled {args.editions} editions × {args.items} items, {args.queue_items} queue items and "
            f"{args.subscribers} subscribers on {runtime.engine.dialect.name} in {time.perf_counter() - started:.1f} s"
        )
        runtime.close()
        measure(args, folder, edition_id, threads)


def measure(args: argparse.Namespace, folder: Path, edition_id: int, threads: int) -> None:
    digest = [sys.executable, "-m", "digest", "serve", "--config", str(folder / "config.yaml"), "--port", "0"]
    ours = Server(digest)
    assert ours.base is not None
    wait_until_up(f"{ours.base}/healthz")
    slug = f"digest-{args.editions // 2:04d}"
    accept = [] if args.identity else ["Accept-Encoding: gzip"]  # what browsers and feed readers send
    page, encoding = fetch_raw(f"{ours.base}/archive/{slug}", accept)
    (folder / "page.html").write_bytes(page)
    with socket_port() as port:
        pass
    anchor_command = [sys.executable, "-c", TRIVIAL_APP, str(folder / "page.html"), str(port), str(threads)]
    anchor = Server(anchor_command + ([encoding] if encoding else []), base=f"http://127.0.0.1:{port}")
    wait_until_up(anchor.base or "")
    cookie = session_cookie(ours.base)
    editor = [*accept, f"Cookie: {cookie}"]
    contenders = {
        ANCHOR: (f"{anchor.base}/", accept),
        "/archive/<slug>": (f"{ours.base}/archive/{slug}", accept),
        "/archive/": (f"{ours.base}/archive/", accept),
        "/archive/feed.xml": (f"{ours.base}/archive/feed.xml", accept),
        "/archive/items.xml": (f"{ours.base}/archive/items.xml", accept),
        "/events.ics": (f"{ours.base}/events.ics", accept),
        "/archive/search?q=hydrogen": (f"{ours.base}/archive/search?q=hydrogen", accept),
        "/editor/ (queue page)": (f"{ours.base}/editor/", editor),
        "/editor/editions/N/preview": (f"{ours.base}/editor/editions/{edition_id}/preview", editor),
    }
    script = folder / "report.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    figures = {label: Figures() for label in contenders}
    for label, (address, headers) in contenders.items():
        figures[label].size = len(fetch_raw(address, headers)[0])  # and the first build: rounds measure reading
    labels = list(contenders)
    print(
        f"wrk, {args.connections} connections, {args.seconds} s per contender and round; waitress {threads} threads; "
        + ("no Accept-Encoding" if args.identity else "Accept-Encoding: gzip (sizes as sent)")
    )
    try:
        for round_number in range(args.rounds):
            order = labels[round_number % len(labels) :] + labels[: round_number % len(labels)]
            before = os.getloadavg()
            for label in order:
                address, headers = contenders[label]
                server = anchor if label == ANCHOR else ours
                warned = server.queue_warnings
                rate, p50, p95, errors = wrk(address, args.connections, args.seconds, script, headers)
                found = figures[label]
                found.rates.append(rate)
                found.p50.append(p50)
                found.p95.append(p95)
                found.errors += errors
                found.queue_warnings += server.queue_warnings - warned
            after = os.getloadavg()
            print(f"round {round_number + 1}: load average {before[0]:.2f} → {after[0]:.2f} (1 min)")
    finally:
        ours.stop()
        anchor.stop()
    report(figures)


def report(figures: dict[str, Figures]) -> None:
    for label, found in figures.items():
        extra = f", {found.errors} errors" if found.errors else ""
        extra += f", {found.queue_warnings} 'Task queue depth' warnings" if found.queue_warnings else ""
        print(
            f"  {label:30} {spread(found.rates, 'req/s', 0):30} p50 {spread(found.p50, 'ms'):24} "
            f"p95 {spread(found.p95, 'ms'):24} {found.size / 1024:,.0f} KB{extra}"
        )
    page, anchor = figures["/archive/<slug>"], figures[ANCHOR]
    ratios = [ours / theirs for ours, theirs in zip(page.rates, anchor.rates, strict=True)]
    print(f"/archive/<slug> ÷ trivial waitress (req/s, per round): {spread(ratios, '×', 2)}")
    for label in ("/archive/feed.xml", "/archive/"):
        p95 = [theirs / ours for theirs, ours in zip(figures[label].p95, page.p95, strict=True)]
        print(f"{label} p95 ÷ /archive/<slug> p95 (per round): {spread(p95, '×', 2)}")


class socket_port:
    """A free port for the anchor (waitress prints no address we could read back from port 0)."""

    def __enter__(self) -> int:
        import socket

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        return self.socket.getsockname()[1]

    def __exit__(self, *_: object) -> None:
        self.socket.close()


if __name__ == "__main__":
    main()
