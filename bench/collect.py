"""Collector benchmark (not a test): prints figures, asserts nothing.

Serves FEEDS feeds of ITEMS items each from a local HTTP server (in its own process) that adds
LATENCY seconds to every response, then measures in one run:

  (a) a plain sequential `feedparser.parse(url)` loop,
  (b) our first collection into a fresh database,
  (c) our second collection when nothing changed (conditional GET: 304s),

interleaved over ROUNDS rounds (the order of (a) and (b)+(c) alternating; (c) needs (b)'s database),
each round with a fresh database; prints every round with its load average, then the medians, the
range and the ratios per round.

    .venv/bin/python bench/collect.py [--feeds 200] [--items 50] [--latency 0.2] [--concurrency 50]
                                      [--parse-processes 0] [--rounds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
from common import bench_runtime
from sqlalchemy import func, select

from digest.config import CollectConfig
from digest.db import transaction
from digest.models import Item, Source
from sources.collector import collect
from tests.databases import scratch_database

MIB = 1024 * 1024
WORDS = (
    *("cluster", "innovation", "energy", "hydrogen", "mobility", "textile", "agrifood", "health", "digital"),
    *("aerospace", "maritime", "partnership", "mission", "matchmaking", "SMEs", "vouchers", "region", "network"),
    *("platform", "circular", "skills", "export", "supply", "chain", "resilience", "startup", "investment"),
    *("pilot", "robotics", "photonics", "battery", "forum", "alliance"),
)


def make_feed(number: int, items: int, today: datetime) -> bytes:
    rng = random.Random(number)
    entries = []
    for index in range(items):
        words = " ".join(rng.choice(WORDS) for _ in range(7))
        title = f"Feed {number} story {index}: {words}"
        link = f"https://feed{number}.example.org/news/{index}-{hashlib.md5(title.encode()).hexdigest()[:8]}"
        when = format_datetime(today - timedelta(hours=index * 5 + number % 7), usegmt=True)
        text = " ".join(rng.choice(WORDS) for _ in range(60))
        entries.append(
            f"<item><title>{title}</title><link>{link}</link><guid isPermaLink='true'>{link}</guid>"
            f"<pubDate>{when}</pubDate><category domain='country'>Belgium</category>"
            f"<category>{rng.choice(WORDS).title()}</category>"
            f"<description><![CDATA[<p>{text}</p><p><a href='/more/{index}'>Read more</a></p>]]></description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {number}</title><link>https://feed{number}.example.org/</link>"
        f"<description>Benchmark feed {number}</description>{''.join(entries)}</channel></rss>"
    ).encode()


def serve(feeds: int, items: int, latency: float, ready: multiprocessing.Queue) -> None:
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    bodies = {f"/feed/{n}.rss": make_feed(n, items, today) for n in range(feeds)}
    etags = {path: '"' + hashlib.sha256(data).hexdigest()[:20] + '"' for path, data in bodies.items()}
    modified = format_datetime(today, usegmt=True)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            time.sleep(latency)
            data = bodies.get(self.path)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == etags[self.path]:
                self.send_response(304)
                self.send_header("ETag", etags[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etags[self.path])
            self.send_header("Last-Modified", modified)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024
        daemon_threads = True

    httpd = Server(("127.0.0.1", 0), Handler)
    ready.put(httpd.server_address[1])
    httpd.serve_forever()


class TreeMonitor:
    """Samples this process and its descendants (the parsing processes hang below a forkserver)
    every 100 ms from /proc: peak total memory (PSS) and CPU seconds per phase. Linux only; elsewhere it
    reports this process alone. The benchmark's HTTP server is left out."""

    def __init__(self, exclude: int) -> None:
        self.exclude = exclude
        self.cpu: dict[int, float] = {}
        self.peak_rss = 0
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while self.running:
            self.sample()
            time.sleep(0.1)

    def sample(self) -> None:
        stats = _proc_stats()
        if not stats:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            self.cpu[os.getpid()] = usage.ru_utime + usage.ru_stime
            self.peak_rss = max(self.peak_rss, usage.ru_maxrss * 1024)
            return
        tree = _descendants(os.getpid(), stats, self.exclude)
        self.peak_rss = max(self.peak_rss, sum(_pss(pid) or stats[pid][2] for pid in tree))
        for pid in tree:
            self.cpu[pid] = stats[pid][1]

    def cpu_seconds(self) -> float:
        self.sample()
        return sum(self.cpu.values())

    def stop(self) -> None:
        self.running = False


def _proc_stats() -> dict[int, tuple[int, float, int]]:
    """pid -> (parent pid, CPU seconds, RSS bytes) for every process, from /proc."""
    ticks, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    stats = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        stats[int(entry.parent.name)] = (int(fields[1]), cpu, int(fields[21]) * page)
    return stats


def _pss(pid: int) -> int | None:
    """Proportional set size: forked processes share pages, and RSS would count those twice."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _descendants(root: int, stats: dict[int, tuple[int, float, int]], exclude: int) -> set[int]:
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, (parent, _cpu, _rss) in stats.items():
            if parent in tree and pid not in tree and pid != exclude:
                tree.add(pid)
                grew = True
    return tree & stats.keys()


def ours(args: argparse.Namespace, urls: list[str], settings: CollectConfig, exclude: int, round_number: int) -> dict:
    """(b) a first collection into a fresh database, then (c) a second one with nothing changed."""
    total = len(urls) * args.items
    with tempfile.TemporaryDirectory() as tmp, scratch_database(Path(tmp), args.database_url, "collect") as url:
        runtime = bench_runtime(Path(tmp), url)
        with transaction(runtime.sessions) as session:
            for number, address in enumerate(urls):
                session.add(Source(name=f"feed-{number:03d}", url=address, kind="news", enabled=True,
                                   consecutive_errors=0))  # fmt: skip
        monitor = TreeMonitor(exclude=exclude)
        started, cpu = time.perf_counter(), monitor.cpu_seconds()
        first = collect(runtime, settings=settings)
        time_b, cpu_b = time.perf_counter() - started, monitor.cpu_seconds() - cpu
        with runtime.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(Item))
        started, cpu = time.perf_counter(), monitor.cpu_seconds()
        second = collect(runtime, settings=settings)
        time_c, cpu_c = time.perf_counter() - started, monitor.cpu_seconds() - cpu
        monitor.stop()
        runtime.close()
    failed = [result for result in first if result.status == "error"]
    unchanged = sum(result.status == "not_modified" for result in second)
    print(f"  round {round_number} (b) first collection:  {time_b:7.2f} s  {total / time_b:6.0f} items/s  "
          f"CPU {cpu_b:5.2f} s  ({stored} stored, {len(failed)} sources failed"
          f"{': ' + str(failed[0].error)[:100] if failed else ''})")  # fmt: skip
    print(f"  round {round_number} (c) second, unchanged: {time_c:7.2f} s  {total / time_c:6.0f} items/s  "
          f"CPU {cpu_c:5.2f} s  ({unchanged}/{len(second)} not modified)")  # fmt: skip
    return {"b": time_b, "c": time_c, "peak": monitor.peak_rss / MIB}


def baseline(urls: list[str], items: int, round_number: int) -> dict:
    """(a) the plain sequential feedparser loop."""
    started, cpu = time.perf_counter(), time.process_time()
    parsed = sum(len(feedparser.parse(url).entries) for url in urls)
    time_a, cpu_a = time.perf_counter() - started, time.process_time() - cpu
    print(f"  round {round_number} (a) sequential feedparser.parse(url): {time_a:7.2f} s  "
          f"{len(urls) * items / time_a:6.0f} items/s  CPU {cpu_a:5.2f} s  ({parsed} entries)")  # fmt: skip
    return {"a": time_a}


def spread(values: list[float], unit: str, digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f}{unit} (range {min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=CollectConfig().concurrency)
    parser.add_argument("--parse-processes", type=int, default=CollectConfig().parse_processes)
    parser.add_argument("--database-url", help="PostgreSQL to use (a fresh schema per round; default: SQLite files)")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run (a); ratios are then omitted")
    args = parser.parse_args()

    ready: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.get_context("fork").Process(
        target=serve, args=(args.feeds, args.items, args.latency, ready), daemon=True
    )
    server.start()
    port = ready.get(timeout=60)
    urls = [f"http://127.0.0.1:{port}/feed/{n}.rss" for n in range(args.feeds)]
    # the feed server listens on 127.0.0.1, which the network policy refuses by default
    settings = CollectConfig(
        concurrency=args.concurrency, parse_processes=args.parse_processes, allow_private_addresses=True
    )
    print(f"{os.cpu_count()} CPUs; {args.feeds} feeds x {args.items} items, {args.latency * 1000:.0f} ms latency "
          f"per response; concurrency {settings.concurrency}, parse processes {settings.parse_processes}; "
          f"{args.rounds} rounds, the contenders' order alternating")  # fmt: skip
    rounds: list[dict] = []
    for number in range(1, args.rounds + 1):
        before = os.getloadavg()[0]
        contenders = [lambda n=number: ours(args, urls, settings, server.pid, n)]
        if not args.skip_baseline:
            contenders.append(lambda n=number: baseline(urls, args.items, n))
        if number % 2 == 0:
            contenders.reverse()
        figures: dict = {}
        for run in contenders:
            figures.update(run())
        figures["load"] = (before, os.getloadavg()[0])
        print(f"  round {number}: load average {before:.2f} -> {figures['load'][1]:.2f} (1 min)")
        rounds.append(figures)
    server.terminate()

    loads = [value for figures in rounds for value in figures["load"]]
    print(f"medians over {len(rounds)} rounds (load average {min(loads):.1f}–{max(loads):.1f}):")
    print(f"  (b) first collection:  {spread([r['b'] for r in rounds], ' s')}")
    print(f"  (c) second, unchanged: {spread([r['c'] for r in rounds], ' s')}")
    print(f"  peak memory (PSS of all collector processes): {spread([r['peak'] for r in rounds], ' MiB', 0)}")
    if not args.skip_baseline:
        print(f"  (a) sequential feedparser: {spread([r['a'] for r in rounds], ' s')}")
        print(f"  (a)/(b) per round: {spread([r['a'] / r['b'] for r in rounds], 'x', 1)} (goal >= 8x)")
        print(f"  (a)/(c) per round: {spread([r['a'] / r['c'] for r in rounds], 'x', 1)} (goal >= 30x)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
