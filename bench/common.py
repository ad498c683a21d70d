"""What the benchmarks share: a migrated database of their own and a few timing helpers.

Benchmarks print figures and never assert on time; see the README for the figures measured.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from digest.config import load_config
from digest.db import upgrade
from digest.runtime import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers, as email_bench uses
from tests.databases import scratch_database

BENCH_SECRET = "bench-secret-key-0123456789-0123456789"


def bench_runtime(folder: Path, database_url: str, **sections: Any) -> Runtime:
    """A Runtime on a migrated database, configured by a config.yaml written into `folder`."""
    settings: dict[str, Any] = {
        "site": {"name": "Bench Cluster Platform", "base_url": "http://bench.test"},
        "database": {"url": database_url},
        "secret_key": BENCH_SECRET,
        "mail": {"from": "Bench <bench@bench.test>", "transport": "outbox", "outbox_dir": str(folder / "outbox")},
        "sources": [],
    }
    for key, value in sections.items():
        settings[key] = {**settings[key], **value} if isinstance(settings.get(key), dict) else value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    runtime = Runtime(load_config(path, environ={}))
    upgrade(runtime.engine)
    return runtime


def bench_arguments(doc: str, **sizes: int) -> argparse.Namespace:
    """A benchmark's command line: its sizes (`--name N`, with these defaults) and `--database-url`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default in sizes.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--database-url", default=None)
    return parser.parse_args()


@contextmanager
def bench_setup(database_url: str | None, **sections: Any) -> Iterator[tuple[Path, Runtime]]:
    """A temporary folder and a Runtime on a fresh database of its own (scratch_database), closed at the end."""
    with tempfile.TemporaryDirectory() as name, scratch_database(Path(name), database_url, "bench") as url:
        runtime = bench_runtime(Path(name), url, **sections)
        try:
            yield Path(name), runtime
        finally:
            runtime.close()


def timed(action: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_ms(action: Callable[[], object], runs: int = 5) -> float:
    return statistics.median(timed(action) for _ in range(runs)) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
