"""Editors' app benchmark (not a test): prints figures, asserts nothing.

Fills a fresh database with 10,000 items (every status, kind and origin, 20 sources, some from
submissions) and 20,000 subscribers, makes a 40-item newsletter, serves the app with waitress (the
production server, 8 threads) and, logged in as an editor over HTTP, measures the median and 95th
percentile of

  (a) the queue page (pending, every kind: the editors' landing page),
  (b) a filtered queue page (approved open calls from one country matching a word),
  (c) the edition preview (the HTML part; rendered once, then kept until the edition changes),
  (d) the edition preview just after each change (rendering every time: the cold figure),

over 200 requests each (40 for (d)), one after another from one client.

    .venv/bin/python bench/web.py [--items 10000] [--subscribers 20000] [--requests 200] [--database-url URL]
"""

from __future__ import annotations

import hashlib
import random
import re
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests
from common import bench_arguments, bench_setup
from sqlalchemy import insert, select, update
from waitress import create_server

from digest.audit import SYSTEM
from digest.db import transaction
from digest.editions.newsletter import create_newsletter
from digest.editors.accounts import add_editor
from digest.models import Edition, Item, Source, Submission, Subscriber
from digest.runtime import Runtime
from digest.web import create_app

WORDS = (
    *("cluster", "innovation", "energy", "hydrogen", "mobility", "textile", "agrifood", "health", "digital"),
    *("aerospace", "maritime", "partnership", "mission", "matchmaking", "SMEs", "vouchers", "region", "network"),
)
COUNTRIES = ("Belgium", "Spain", "France", "Sweden", "Portugal", "Poland", "Italy", "Germany", "Greece", "Austria")
KINDS = ("news", "event", "call", "achievement")
STATUSES = ("pending",) * 3 + ("approved",) * 2 + ("rejected", "published", "published", "expired")
EMAIL, PASSWORD = "editor@bench.example.org", "bench password 123"


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def fill(runtime: Runtime, items: int, subscribers: int) -> int:
    """The data; returns the id of a 40-item newsletter draft."""
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
            title = f"{sentence(rng, 7).capitalize()} {number}"
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


def log_in(base: str) -> requests.Session:
    client = requests.Session()
    page = client.get(f"{base}/editor/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(f"{base}/editor/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    response.raise_for_status()
    assert "Log out" in response.text
    return client


def measure(client: requests.Session, url: str, count: int, before: Callable[[], None] | None = None) -> list[float]:
    client.get(url).raise_for_status()  # warm up (connections, first render)
    times = []
    for _ in range(count):
        if before is not None:
            before()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def report(label: str, times: list[float], size: int) -> None:
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    median = statistics.median(ordered)
    print(f"  {label:44} p50 {median:6.1f} ms   p95 {p95:6.1f} ms   ({len(times)} requests, {size / 1024:.0f} KB)")


def main() -> None:
    args = bench_arguments(__doc__, items=10_000, subscribers=20_000, requests=200)
    with bench_setup(args.database_url) as (_, runtime):
        started = time.perf_counter()
        edition_id = fill(runtime, args.items, args.subscribers)
        print(
            f"filled {args.items} items and {args.subscribers} subscribers on {runtime.engine.dialect.name} "
            f"in {time.perf_counter() - started:.1f} s"
        )
        server = create_server(create_app(runtime), host="127.0.0.1", port=0, threads=8)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}"
        client = log_in(base)
        with runtime.sessions() as session:
            country = session.scalar(select(Item.country).where(Item.kind == "call", Item.status == "approved"))
        pages = {
            "(a) queue page: /editor/": f"{base}/editor/",
            "(b) filtered: approved calls, country, word": f"{base}/editor/?status=approved&kind=call"
            f"&country={country}&q=energy",
            "(c) edition preview (HTML part)": f"{base}/editor/editions/{edition_id}/preview",
        }
        print(f"waitress, 8 threads; {args.requests} requests each, one after another")
        for label, address in pages.items():
            times = measure(client, address, args.requests)
            report(label, times, len(client.get(address).content))

        edits = iter(range(10**6))

        def change_the_edition() -> None:
            with transaction(runtime.sessions) as session:
                session.execute(update(Edition).where(Edition.id == edition_id).values(intro=f"Edit {next(edits)}"))

        preview = pages["(c) edition preview (HTML part)"]
        report("(d) preview right after an edit (renders)", measure(client, preview, 40, change_the_edition),
               len(client.get(preview).content))  # fmt: skip
        client.close()
        server.task_dispatcher.shutdown()  # let the last request finish before the sockets close
        server.close()
        thread.join(timeout=5)


if __name__ == "__main__":
    main()
