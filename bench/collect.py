"""Collector benchmark (not a test): prints figures, asserts nothing.

Serves FEEDS feeds of ITEMS items each from a local HTTP server (in its own process) that adds
LATENCY seconds to every response, then measures in one run:

  (a) a plain sequential `feedparser.parse(url)` loop,
  (b) our first collection into a fresh database,
  (c) our second collection when nothing changed (conditional GET: 304s).

    .venv/bin/python bench/collect.py [--feeds 200] [--items 50] [--latency 0.2] [--concurrency 50]
                                      [--parse-processes 0] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import random
import resource
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import yaml
from sqlalchemy import func, select

from digest.config import load_config
from digest.db import transaction, upgrade
from digest.models import Item, Source
from digest.runtime import Runtime
from sources.collector import collect
from sources.settings import CollectorSettings

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


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the parsing processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_runtime(workdir: Path, database_url: str | None) -> Runtime:
    config_path = workdir / "config.yaml"
    url = database_url or f"sqlite:///{workdir / 'bench.db'}"
    config_path.write_text(yaml.safe_dump({"database": {"url": url}, "secret_key": "bench-" * 4}), encoding="utf-8")
    runtime = Runtime(load_config(config_path, environ={}))
    upgrade(runtime.engine)
    return runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=CollectorSettings().concurrency)
    parser.add_argument("--parse-processes", type=int, default=CollectorSettings().parse_processes)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run (a); ratios are then omitted")
    args = parser.parse_args()

    ready: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.get_context("fork").Process(
        target=serve, args=(args.feeds, args.items, args.latency, ready), daemon=True
    )
    server.start()
    port = ready.get(timeout=60)
    urls = [f"http://127.0.0.1:{port}/feed/{n}.rss" for n in range(args.feeds)]
    total = args.feeds * args.items
    settings = CollectorSettings(concurrency=args.concurrency, parse_processes=args.parse_processes)
    print(f"{args.feeds} feeds x {args.items} items, {args.latency * 1000:.0f} ms latency per response; "
          f"concurrency {settings.concurrency}, parse processes {settings.parse_processes}")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        runtime = make_runtime(Path(tmp), args.database_url)
        with transaction(runtime.sessions) as session:
            for number, url in enumerate(urls):
                session.add(Source(name=f"feed-{number:03d}", url=url, kind="news", enabled=True, consecutive_errors=0))

        started, cpu = time.perf_counter(), cpu_seconds()
        first = collect(runtime, settings=settings)
        time_b, cpu_b = time.perf_counter() - started, cpu_seconds() - cpu
        with runtime.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(Item))
        errors_b = [result for result in first if result.status == "error"]

        started, cpu = time.perf_counter(), cpu_seconds()
        second = collect(runtime, settings=settings)
        time_c, cpu_c = time.perf_counter() - started, cpu_seconds() - cpu
        unchanged = sum(result.status == "not_modified" for result in second)
        rss_ours = peak_rss_mib()
        runtime.close()

    print(f"(b) first collection:   {time_b:7.2f} s  {total / time_b:8.0f} items/s  CPU {cpu_b:5.2f} s  "
          f"({stored} items stored, {sum(r.new for r in first)} new, {len(errors_b)} sources failed)")  # fmt: skip
    print(f"(c) second, unchanged:  {time_c:7.2f} s  {total / time_c:8.0f} items/s  CPU {cpu_c:5.2f} s  "
          f"({unchanged}/{len(second)} sources not modified)")  # fmt: skip
    print(f"peak memory (RSS) after (b) and (c): {rss_ours:.0f} MiB")

    if not args.skip_baseline:
        started, cpu = time.perf_counter(), cpu_seconds()
        parsed = 0
        for url in urls:
            parsed += len(feedparser.parse(url).entries)
        time_a, cpu_a = time.perf_counter() - started, cpu_seconds() - cpu
        print(f"(a) sequential feedparser.parse(url): {time_a:7.2f} s  {total / time_a:8.0f} items/s  "
              f"CPU {cpu_a:5.2f} s  ({parsed} entries)")  # fmt: skip
        print(f"ratios: (a)/(b) = {time_a / time_b:.1f}x (goal >= 8x), (a)/(c) = {time_a / time_c:.1f}x (goal >= 30x)")
        print(f"peak memory (RSS) of the whole run: {peak_rss_mib():.0f} MiB")
    server.terminate()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
