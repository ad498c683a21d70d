"""Submission API benchmark (not a test): prints figures, asserts nothing.

Each contender is a real `digest serve` (waitress, its own process) on a database of its own holding
QUEUE news items (collected in the last weeks, so all of them are in the near-identical-title
window). This process drives it over HTTP from CONCURRENCY client threads, each with its own
keep-alive connection, posting valid submissions (every one new: no duplicate short-cuts) to
POST /api/submissions, with the rate limits raised out of the way. The anchor is the same server's
GET /healthz (one `SELECT 1`) at the same concurrency: what the server, the network stack and this
client cost without the submission.

Contenders are interleaved over ROUNDS rounds (their order rotates each round); for each the bench
prints the medians over the rounds of p50, p95, p99 and requests per second, the range of p95 over
the rounds, and the load average before and after. `--before PATH` adds a contender served from
another source tree (a `git worktree` of an older commit) so before and after run side by side:

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/submissions_bench.py --before /tmp/before [--queue 20000] [--requests 200]

`--profile DIR` serves ours with werkzeug's ProfilerMiddleware (cProfile in each request's own
thread), writes one .prof file per request into DIR and prints the functions that took the most
cumulative time over all of them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import MetaData, Table, create_engine, insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import BENCH_SECRET, percentile  # noqa: E402

from digest.titles import title_index  # noqa: E402
from sources import dedup  # noqa: E402
from tests.databases import scratch_database  # noqa: E402

WORDS = ("cluster", "hydrogen", "textile", "maritime", "digital", "agrifood", "battery", "mobility", "health", "space",
         "wood", "aerospace")  # fmt: skip
START_TIMEOUT = 120.0
REQUEST_TIMEOUT = 60.0


@dataclass
class Contender:
    name: str
    source_tree: Path  # where the server's code comes from
    path: str  # what each request asks for
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="subs-bench-")))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None  # `digest worker`: sends the submitters' emails meanwhile
    rounds: list[dict[str, float]] = field(default_factory=list)
    database_url: str = ""


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200, help="per contender and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--before", type=Path, default=None, help="a source tree to serve as the 'before' contender")
    parser.add_argument("--profile", type=Path, default=None, help="profile our server's requests into this folder")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL: each server gets a schema of its own")
    parser.add_argument("--serve-profiled", nargs=3, metavar=("CONFIG", "PORT", "DIR"), help=argparse.SUPPRESS)
    return parser.parse_args()


def serve_profiled(config: str, port: str, folder: str) -> None:
    """`digest serve`'s waitress server, with each request profiled in the thread that answers it."""
    from waitress import serve
    from werkzeug.middleware.profiler import ProfilerMiddleware

    from digest.config import load_config
    from digest.runtime import Runtime
    from digest.web import create_app

    app = create_app(Runtime(load_config(Path(config))))
    profiled = ProfilerMiddleware(app, stream=None, profile_dir=folder, filename_format="{time:.6f}.prof")
    serve(profiled, host="127.0.0.1", port=int(port), threads=8, _quiet=True)


def print_profile(folder: Path, lines: int = 30) -> None:
    import pstats

    files = sorted(str(path) for path in folder.glob("*.prof"))
    if not files:
        return
    stats = pstats.Stats(files[0])
    for name in files[1:]:
        stats.add(name)
    print(f"profile of {len(files)} requests (cumulative seconds in the answering threads):")
    stats.sort_stats("cumulative").print_stats(lines)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(tree: Path) -> dict[str, str]:
    """The tree's own code first on the path (our venv's packages still serve for the rest)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    return env


def write_config(contender: Contender) -> Path:
    settings = {
        "site": {"name": "Bench Cluster Platform", "base_url": "http://bench.test"},
        "database": {"url": contender.database_url},
        "secret_key": BENCH_SECRET,
        "mail": {"from": "Bench <bench@bench.test>", "transport": "outbox",
                 "outbox_dir": str(contender.folder / "outbox")},
        "sources": [],
        "submissions": {"rate_limit_per_hour": 10_000_000, "confirmations_per_address_per_hour": 10_000_000},
        "limits": {"subscribe_per_hour": 10_000_000},
    }  # fmt: skip
    path = contender.folder / "config.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def fill_queue(database_url: str, count: int) -> None:
    """QUEUE pending news items, written with the table as the contender's own migrations made it."""
    engine = create_engine(database_url)
    items = Table("items", MetaData(), autoload_with=engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    keyed = "title_head" in items.c  # the title keys the lookup finds items by, where the tree has them
    for n in range(count):
        words = WORDS[n % 12].title(), WORDS[(n // 12) % 12], WORDS[(n // 7) % 12]
        title = f"{words[0]} {words[1]} news number {n} from the {words[2]} sector"
        key = dedup.sha256(title)
        rows.append({
            "kind": "news", "status": "pending", "title": title, "summary": "<p>Text.</p>",
            "url": f"https://news.example.eu/{n}", "topics": [], "origin": "feed", "dedup_key": key,
            "content_hash": key, "collected_at": now - timedelta(days=n % 50), "updated_at": now, "featured": False,
        })  # fmt: skip
        if keyed:
            rows[-1].update(zip(("title_key", "title_head", "title_tail"), title_index(title), strict=True))
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(items), rows[start : start + 5000])
    if engine.dialect.name == "postgresql":  # the statistics autovacuum keeps on a live database
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE items")
    engine.dispose()


def start(contender: Contender, queue: int, profile: Path | None) -> None:
    config = write_config(contender)
    env = environment(contender.source_tree)
    tree = str(contender.source_tree)  # the working folder too: `python -m` puts it first on the path
    subprocess.run([sys.executable, "-m", "digest", "init", "--config", str(config)], env=env, check=True,
                   capture_output=True, cwd=tree)  # fmt: skip
    fill_queue(contender.database_url, queue)
    contender.port = free_port()
    serve = ["-m", "digest", "serve", "--config", str(config), "--port", str(contender.port)]
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        serve = [str(Path(__file__).resolve()), "--serve-profiled", str(config), str(contender.port), str(profile)]
    log = (contender.folder / "server.log").open("wb")
    contender.process = subprocess.Popen([sys.executable, *serve], env=env, stdout=log, stderr=log, cwd=tree)
    worker = [sys.executable, "-m", "digest", "worker", "--config", str(config)]
    contender.worker = subprocess.Popen(worker, env=env, stdout=log, stderr=log, cwd=tree)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", contender.port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{contender.name}: the server did not answer within {START_TIMEOUT:.0f} s")


def stop(contender: Contender) -> None:
    for process in (contender.process, contender.worker):
        if process is not None:
            process.send_signal(2)  # SIGINT: waitress and the worker stop, cProfile writes its file
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


_counter = iter(range(10**9))
_counter_lock = threading.Lock()


def submission_body() -> bytes:
    with _counter_lock:
        n = next(_counter)
    body = {
        "kind": "news",
        "title": f"Submitted story {n} about {WORDS[n % 12]} clusters in Europe and beyond",
        "summary": "A **short** summary of what the cluster did, with [a link](https://cluster.example.eu/more).",
        "url": f"https://cluster.example.eu/story/{n}",
        "organisation": "Bench Cluster",
        "contact_name": "Bench Person",
        "contact_email": f"person{n}@cluster.example.eu",
    }
    return json.dumps(body).encode()


def one_round(contender: Contender, requests: int, concurrency: int) -> dict[str, float]:
    """REQUESTS requests from CONCURRENCY threads; latencies in ms, failures counted."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    remaining = iter(range(requests))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", contender.port, timeout=REQUEST_TIMEOUT)
        while True:
            with lock:
                if next(remaining, None) is None:
                    break
            if contender.path == "/api/submissions":
                body, method, headers = submission_body(), "POST", {"Content-Type": "application/json"}
            else:
                body, method, headers = None, "GET", {}
            started = time.perf_counter()
            connection.request(method, contender.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if response.status not in (200, 201):
                    failures.append(response.status)
                    print(f"{contender.name}: HTTP {response.status}", file=sys.stderr)
        connection.close()

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return {
        "p50": statistics.median(latencies), "p95": percentile(latencies, 0.95), "p99": percentile(latencies, 0.99),
        "rps": len(latencies) / seconds, "failed": len(failures), "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }  # fmt: skip


def report(contender: Contender) -> str:
    def median(key: str) -> float:
        return statistics.median(result[key] for result in contender.rounds)

    p95s = [result["p95"] for result in contender.rounds]
    failed = sum(int(result["failed"]) for result in contender.rounds)
    loads = [result[key] for result in contender.rounds for key in ("load_before", "load_after")]
    return (
        f"{contender.name:<34} p50 {median('p50'):7.1f} ms  p95 {median('p95'):7.1f} ms "
        f"(range {min(p95s):.1f}–{max(p95s):.1f})  p99 {median('p99'):7.1f} ms  {median('rps'):6.1f} req/s  "
        f"failed {failed}  load {min(loads):.2f}–{max(loads):.2f}"
    )


def main() -> None:
    options = arguments()
    if options.serve_profiled:
        serve_profiled(*options.serve_profiled)
        return
    contenders = [
        Contender("ours: POST /api/submissions", ROOT, "/api/submissions"),
        Contender("anchor: GET /healthz (ours)", ROOT, "/healthz"),
    ]
    if options.before is not None:
        contenders.insert(1, Contender("before: POST /api/submissions", options.before.resolve(), "/api/submissions"))
    servers: dict[Path, Contender] = {}
    with ExitStack() as databases:
        try:
            for contender in contenders:
                if contender.source_tree in servers:  # the anchor asks our server for another page
                    contender.port, contender.process = servers[contender.source_tree].port, None
                    continue
                name = f"subs_bench_{len(servers)}"
                contender.database_url = databases.enter_context(
                    scratch_database(contender.folder, options.postgres, name)
                )
                profile = options.profile if contender.source_tree == ROOT else None
                start(contender, options.queue, profile)
                servers[contender.source_tree] = contender
            for contender in contenders:  # warm-up: imports, templates, first connections
                one_round(contender, options.concurrency * 2, options.concurrency)
            for number in range(options.rounds):
                shift = number % len(contenders)
                for contender in contenders[shift:] + contenders[:shift]:
                    contender.rounds.append(one_round(contender, options.requests, options.concurrency))
        finally:
            for contender in servers.values():
                stop(contender)
            mailed = {c.name: len(list((c.folder / "outbox").glob("*.eml"))) for c in servers.values()}
            for contender in contenders:
                shutil.rmtree(contender.folder, ignore_errors=True)
    engine = "PostgreSQL" if options.postgres else "SQLite"
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {engine}, queue {options.queue} news items, "
          f"{options.requests} requests × {options.rounds} rounds per contender, concurrency {options.concurrency}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    for contender in contenders:
        print(report(contender))
    for name, count in mailed.items():
        print(f"emails in the outbox of {name!r} when stopped (confirmations the worker sent): {count}")
    if options.profile is not None:
        print_profile(options.profile)


if __name__ == "__main__":
    main()
