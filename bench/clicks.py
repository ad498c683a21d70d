"""Click-tracking benchmark (not a test): prints figures, asserts nothing.

The 30-item digest of bench/send.py, three ways side by side in one run, interleaved over rounds:
  off          analytics.clicks: false (links direct; the anchor)
  per link     analytics.clicks: true (the default): links rewritten once per edition
  per reader   analytics.per_subscriber: true: one more signed token per message
and for each, in CPU time (the machine is shared): composing the edition (render, trimming check and
rewrite, once per edition) and building messages (per recipient, what the worker does for every
delivery). Then the redirect itself: /l/<token> (one UPDATE and a 302) against /healthz (one SELECT 1)
on the same waitress server, with wrk.

    .venv/bin/python bench/clicks.py [--messages 5000] [--rounds 5] [--database-url URL]
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_arguments, bench_setup
from bench.send import prepare
from digest.delivery.message import EditionMessage, Recipient, site_links
from digest.editions.compose import compose
from digest.models import Edition, new_uid
from digest.web import create_app

SETTINGS = {
    "off": {"clicks": False},
    "per link": {"clicks": True},
    "per reader": {"clicks": True, "per_subscriber": True},
}


def main() -> None:
    arguments = bench_arguments(__doc__ or "", messages=5000, rounds=5)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with (
        bench_setup(arguments.database_url, analytics=SETTINGS["off"]) as (_, off),
        bench_setup(arguments.database_url, analytics=SETTINGS["per link"]) as (_, per_link),
        bench_setup(arguments.database_url, analytics=SETTINGS["per reader"] | {"clicks_per_minute": 10**9}) as (
            _,
            per_reader,
        ),
    ):
        runtimes = {"off": off, "per link": per_link, "per reader": per_reader}
        editions = {name: prepare(runtime, 1) for name, runtime in runtimes.items()}
        composing: dict[str, list[float]] = {name: [] for name in runtimes}
        building: dict[str, list[float]] = {name: [] for name in runtimes}
        for _ in range(arguments.rounds):
            for name, runtime in runtimes.items():  # interleaved: each round runs every contender
                composing[name].append(compose_seconds(runtime, editions[name]))
                building[name].append(build_seconds(runtime, editions[name], arguments.messages))
        print("\ncomposing one edition (render, size check, rewrite), CPU ms: median (range)")
        for name, runs in composing.items():
            print(f"  {name:<11} {ms(statistics.median(runs))} ({ms(min(runs))}–{ms(max(runs))})")
        print(f"\nbuilding {arguments.messages} messages, CPU µs per message: median (range)")
        for name, runs in building.items():
            each = [run / arguments.messages * 1e6 for run in runs]
            print(f"  {name:<11} {statistics.median(each):.1f} ({min(each):.1f}–{max(each):.1f})")
        redirect_against_anchor(per_reader, editions["per reader"], arguments.rounds)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def compose_seconds(runtime, edition_id: int) -> float:
    with runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        started = time.process_time()
        compose(runtime.config, edition, track=True)
        return time.process_time() - started


def build_seconds(runtime, edition_id: int, messages: int) -> float:
    config = runtime.config
    with runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        message = EditionMessage(
            edition, config.mail.from_address, config.site.name, site_links(config.site.base_url, runtime.secret_key)
        )
    recipients = [Recipient(f"reader{n}@subscribers.example.org", f"Reader {n}", new_uid()) for n in range(messages)]
    started = time.process_time()
    for number, recipient in enumerate(recipients, 1):
        message.build(recipient, number)
    return time.process_time() - started


def redirect_against_anchor(runtime, edition_id: int, rounds: int) -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        print("\n(wrk is not installed: the redirect is not measured)")
        return
    from waitress import create_server

    with runtime.sessions() as session:
        link = re.search(r'href="http://bench\.test(/l/[^"]+)"', session.get(Edition, edition_id).html).group(1)
    link = link.rsplit("/", 1)[0]  # the link without a delivery tag: counted per link
    server = create_server(create_app(runtime), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    results: dict[str, list[float]] = {"/healthz (anchor)": [], "/l/<token>": []}
    try:
        for _ in range(rounds):
            for name, path in (("/healthz (anchor)", "/healthz"), ("/l/<token>", link)):
                output = subprocess.run(
                    [wrk, "-t2", "-c8", "-d5s", base + path], capture_output=True, text=True, check=True
                ).stdout
                results[name].append(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)))
    finally:
        server.close()
    print(f"\nwaitress (4 threads), wrk -t2 -c8 -d5s, {rounds} rounds interleaved: requests/s median (range)")
    for name, runs in results.items():
        print(f"  {name:<18} {statistics.median(runs):.0f} ({min(runs):.0f}–{max(runs):.0f})")
    with runtime.sessions() as session:
        from sqlalchemy import func, select

        from digest.models import EditionLink

        print(f"  clicks counted: {session.scalar(select(func.sum(EditionLink.clicks)))}")


if __name__ == "__main__":
    main()
