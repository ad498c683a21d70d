"""Flood benchmark (not a test): one calendar of SERIES never-ending daily series, collected by the real
`digest collect` in a child process, ROUNDS times; prints the time, the child's peak memory and the items
kept, with the load average. Issue 13 measured 353,528 items, 1.4 GiB and 89 s before the per-source bound.

    .venv/bin/python bench/flood.py [--series 2000] [--rounds 3]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import bench_arguments, bench_setup

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.sources.test_collect_bounds import endless_series_calendar


def serve(calendar: bytes) -> ThreadingHTTPServer:
    class Calendar(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(calendar)))
            self.end_headers()
            self.wfile.write(calendar)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Calendar)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def one_round(series: int, calendar_url: str) -> tuple[float, int, str]:
    """Seconds, the child's peak RSS in MiB, and what `digest collect` printed last."""
    collect = {"allow_private_addresses": True, "max_items_per_source": 1000}
    sources = [{"name": "flood", "url": calendar_url, "kind": "event"}]
    with bench_setup(None, collect=collect, sources=sources) as (_folder, runtime):
        config = runtime.config.path
        digest = [sys.executable, "-m", "digest"]
        subprocess.run([*digest, "init", "--config", str(config)], check=True, capture_output=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run(
            [*digest, "collect", "--config", str(config)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) // 1024, done.stdout.strip().splitlines()[-1]


def main() -> None:
    args = bench_arguments(__doc__ or "", series=2000, rounds=3)
    calendar = endless_series_calendar(args.series)
    server = serve(calendar)
    url = f"http://127.0.0.1:{server.server_address[1]}/flood.ics"
    size = len(calendar) // 1024
    print(f"{datetime.now(UTC):%Y-%m-%d}: one calendar of {args.series} endless daily series, {size} KiB")
    rounds = [one_round(args.series, url) for _ in range(args.rounds)]
    seconds = [r[0] for r in rounds]
    spread = f"range {min(seconds):.2f}–{max(seconds):.2f} s"
    print(f"  digest collect: median {statistics.median(seconds):.2f} s ({spread}),"
          f" peak RSS {max(r[1] for r in rounds)} MiB; {rounds[-1][2]}")  # fmt: skip
    print(f"  load average {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    server.shutdown()


if __name__ == "__main__":
    main()
