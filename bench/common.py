"""What the benchmarks share: a migrated database of their own and a few timing helpers.

Benchmarks print figures and never assert on time; see the README for the figures measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


# --------------------------------------------------------------------------- processes and rounds


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    return children


def _tree(roots: list[int]) -> list[int]:
    children, found, todo = _children_of(), [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass
class Run:
    """One timed run of a set of processes started together."""

    seconds: float
    cpu_seconds: float  # user + system of the processes (and of the children they waited for)
    peak_bytes: int  # the largest sum of resident memory over the whole process tree, sampled
    outputs: list[str]


def run_processes(commands: list[list[str]], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Start the commands at once and wait for all: wall time from the first start to the last exit, their CPU,
    and the peak memory of their process trees (sampled every 0.1 s; the tree is re-read every second)."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        for command in commands
    ]
    outputs: dict[int, bytes] = {}
    readers = [
        threading.Thread(target=lambda p=p: outputs.__setitem__(p.pid, p.stdout.read()), daemon=True)
        for p in processes
    ]
    for reader in readers:
        reader.start()
    pending = {process.pid: process for process in processes}
    cpu, peak, tree, tree_read, ended = 0.0, 0, [], 0.0, 0.0
    while pending:
        now = time.perf_counter()
        if now - tree_read >= 1.0:
            tree, tree_read = _tree(list(pending)), now
        peak = max(peak, sum(_rss(pid) for pid in tree))
        for pid, process in list(pending.items()):
            waited, status, usage = os.wait4(pid, os.WNOHANG)
            if waited:
                ended = time.perf_counter()
                cpu += usage.ru_utime + usage.ru_stime
                process.returncode = os.waitstatus_to_exitcode(status)
                del pending[pid]
                tree = [p for p in tree if p != pid]
        time.sleep(0.1 if pending else 0)
    for reader in readers:
        reader.join()
    texts = [outputs.get(process.pid, b"").decode("utf-8", "replace") for process in processes]
    for process, text in zip(processes, texts, strict=True):
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(process.args)} exited {process.returncode}:\n{text}")
    return Run(ended - started, cpu, peak, texts)


def interleaved(contenders: dict[str, Callable[[], dict]], rounds: int) -> dict[str, list[dict]]:
    """Each contender once per round, the order rotated each round; every result gets the load average."""
    results: dict[str, list[dict]] = {name: [] for name in contenders}
    names = list(contenders)
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            result = contenders[name]()
            result["load"] = load_average()
            results[name].append(result)
            print(f"  round {number + 1}: {name:<24} {describe(result)}  load {result['load']}", flush=True)
    return results


def describe(result: dict) -> str:
    return f"{result['sent']:>7,} in {result['seconds']:6.1f} s = {result['sent'] / result['seconds']:7,.0f} msg/s"


def spread(values: list[float], unit: str = "", digits: int = 0) -> str:
    """The median and the range, e.g. "1,234 (1,100–1,300)"."""
    form = f"{{:,.{digits}f}}"
    median = form.format(statistics.median(values))
    return f"{median}{unit} ({form.format(min(values))}–{form.format(max(values))})"
