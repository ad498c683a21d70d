"""Assembly benchmark (not a test): prints figures, asserts nothing.

A first digest with ITEMS due items (approved this week: news, events, calls, achievements) on top of
QUEUED pending items, assembled (`assemble_digest`: choosing the items) and then composed as the
editors' page and the send do (`compose`: rendering and trimming to what fits in an email). Each run is
a fresh process on a fresh SQLite database, so it pays the start the CLI pays. `--before PATH` runs the
same against another source tree (a `git worktree` of an older commit); contenders are interleaved
over ROUNDS rounds, and the bench prints medians, the range and the load average.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/assembly_bench.py --before /tmp/before [--items 10000] [--queued 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("news", "event", "call", "achievement")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--queued", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--one", type=Path, default=None, help=argparse.SUPPRESS)  # a child: its source tree
    return parser.parse_args()


def child(tree: Path, items: int, queued: int) -> None:
    """One measurement in this process, with `tree`'s code."""
    sys.path.insert(0, str(tree))
    import yaml
    from sqlalchemy import MetaData, Table, insert

    from digest.config import load_config
    from digest.db import upgrade
    from digest.editions.assembly import assemble_digest
    from digest.editions.compose import compose
    from digest.runtime import Runtime

    with tempfile.TemporaryDirectory() as folder:
        settings = {"site": {"name": "Bench", "base_url": "http://bench.test"},
                    "database": {"url": f"sqlite:///{folder}/bench.db"}, "secret_key": "bench-secret-key-0123456789",
                    "mail": {"from": "Bench <bench@bench.test>", "transport": "outbox", "outbox_dir": f"{folder}/out"},
                    "sources": []}  # fmt: skip
        (Path(folder) / "config.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
        runtime = Runtime(load_config(Path(folder) / "config.yaml", environ={}))
        upgrade(runtime.engine)
        now = datetime.now(UTC)
        rows = [_row(n, now, "approved") for n in range(items)]
        rows += [_row(items + n, now, "pending") for n in range(queued)]
        table = Table("items", MetaData(), autoload_with=runtime.engine)
        with runtime.engine.begin() as connection:
            for start in range(0, len(rows), 5000):
                connection.execute(insert(table), rows[start : start + 5000])
        with runtime.sessions() as session, session.begin():
            started = time.perf_counter()
            edition = assemble_digest(session, "Europe/Brussels", now=now).require()
            assembled = time.perf_counter() - started
            started = time.perf_counter()
            composed = compose(runtime.config, edition, now)
            rendered = time.perf_counter() - started
        runtime.close()
    print(json.dumps({"assemble": assembled, "compose": rendered, "kept": composed.kept, "total": composed.total}))


def _row(n: int, now: datetime, status: str) -> dict:
    kind = KINDS[n % 4]
    when = (now - timedelta(hours=1 + n % 100)).replace(tzinfo=None)
    row = {"kind": kind, "status": status, "title": f"Bench {kind} number {n} from a European cluster",
           "summary": f"<p>What happened in cluster {n}, in a sentence or two of plain prose.</p>", "topics": [],
           "url": f"https://bench.example.eu/{n}", "origin": "feed", "dedup_key": f"k{n}", "content_hash": f"h{n}",
           "featured": n % 50 == 0, "collected_at": when, "published_at": when, "updated_at": when,
           "approved_at": when if status == "approved" else None}  # fmt: skip
    if kind == "event":
        row["starts_at"] = (now + timedelta(days=1 + n % 50)).replace(tzinfo=None)
    if kind == "call":
        row["deadline"] = (now + timedelta(days=1 + n % 90)).replace(tzinfo=None)
    return row


def run(tree: Path, options: argparse.Namespace) -> dict:
    """A child process (its wall time includes Python's start and the imports, as a CLI run would)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", str(tree), "--items", str(options.items),
               "--queued", str(options.queued)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - started
    result["load"] = os.getloadavg()[0]
    return result


def main() -> None:
    options = arguments()
    if options.one is not None:
        child(options.one, options.items, options.queued)
        return
    contenders = {"ours": ROOT} | ({"before": options.before.resolve()} if options.before else {})
    results: dict[str, list[dict]] = {name: [] for name in contenders}
    names = list(contenders)
    for number in range(options.rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            results[name].append(run(contenders[name], options))
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, SQLite, first digest: {options.items} due items, "
          f"{options.queued} pending, {options.rounds} rounds, {os.cpu_count()} cores")  # fmt: skip
    for name, runs in results.items():
        parts = []
        for key in ("assemble", "compose", "process"):
            values = [r[key] for r in runs]
            parts.append(f"{key} {statistics.median(values):6.2f} s ({min(values):.2f}–{max(values):.2f})")
        loads = [r["load"] for r in runs]
        print(f"{name:<7} {'  '.join(parts)}  kept {runs[0]['kept']}/{runs[0]['total']}  "
              f"load {min(loads):.2f}–{max(loads):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
