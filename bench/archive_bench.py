"""Archive benchmark (not a test): prints figures, asserts nothing.

Fills a fresh database with EDITIONS sent editions of ITEMS published items each (written through
the models, with a realistic frozen HTML per edition), then measures:

  (a) search: building the FTS5 index (SQLite), then each method on a few queries (median of 5);
  (b) pages: the archive index, an edition page and the editions feed through the web app;
  (c) the static export (`build_archive`) of the whole archive.

    .venv/bin/python bench/archive_bench.py [--editions 200] [--items 40] [--database-url URL]
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import bench_arguments, bench_setup, median_ms, timed

from archive import fts
from archive.export import build_archive
from archive.search import best_method, search
from digest.db import transaction
from digest.models import Edition, EditionItem, Item
from digest.rendering.render import PLACEHOLDERS
from digest.runtime import Runtime
from digest.web import create_app

WORDS = (
    *("cluster", "innovation", "energy", "hydrogen", "mobility", "textile", "agrifood", "health", "digital"),
    *("aerospace", "maritime", "partnership", "mission", "matchmaking", "SMEs", "vouchers", "region", "network"),
    *("platform", "circular", "skills", "export", "supply", "chain", "resilience", "startup", "investment"),
    *("pilot", "robotics", "photonics", "battery", "forum", "alliance"),
)
COUNTRIES = ("Belgium", "Spain", "France", "Sweden", "Portugal", "Poland", "Italy", "Germany")
KINDS = ("news", "event", "call", "achievement")
QUERIES = ("hydrogen", "battery alliance", "portugal", "calls", "photo")


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def fill(runtime: Runtime, editions: int, items: int) -> None:
    rng = random.Random(7)
    start = datetime(2022, 1, 3, 9, tzinfo=UTC)
    frame = Path(__file__).resolve().parent.parent / "templates"  # only to size the HTML realistically
    padding = "x" * 40_000 if frame.is_dir() else ""
    with transaction(runtime.sessions) as session:
        for number in range(editions):
            sent_at = start + timedelta(days=7 * number)
            chosen = []
            for index in range(items):
                title = f"{sentence(rng, 6).capitalize()} {number}-{index}"
                key = hashlib.sha256(title.encode()).hexdigest()
                kind = KINDS[index % 4]
                item = Item(
                    kind=kind,
                    status="published",
                    title=title,
                    summary=f"<p>{sentence(rng, 40)}.</p>",
                    url=f"https://clusters.example.eu/{key[:12]}",
                    organisation=f"{rng.choice(WORDS).title()} Cluster",
                    country=rng.choice(COUNTRIES),
                    published_at=sent_at - timedelta(days=2),
                    starts_at=sent_at + timedelta(days=20) if kind == "event" else None,
                    location="Brussels" if kind == "event" else None,
                    dedup_key=key,
                    content_hash=key,
                )
                session.add(item)
                chosen.append(item)
            session.flush()
            body = "".join(f"<h3>{item.title}</h3><p>{item.summary}</p>" for item in chosen)
            edition = Edition(
                type="digest",
                title=f"Weekly digest {number}",
                subject=f"Weekly digest {number}",
                slug=f"digest-{number:04d}",
                status="sent",
                created_at=sent_at,
                sent_at=sent_at,
                html=(
                    f"<!doctype html><html><head><title>x</title></head><body><p>Dear {PLACEHOLDERS['name']},</p>"
                    f'{body}<!-- {padding} --><a href="{PLACEHOLDERS["unsubscribe_url"]}">Unsubscribe</a>'
                    "</body></html>"
                ),
                text="",
            )
            edition.entries = [
                EditionItem(item=item, item_id=item.id, section="News", position=i) for i, item in enumerate(chosen)
            ]
            session.add(edition)


def main() -> None:
    args = bench_arguments(__doc__, editions=200, items=40)
    with bench_setup(args.database_url) as (folder, runtime):
        print(f"filling: {args.editions} editions × {args.items} items on {runtime.engine.dialect.name}")
        print(f"  {timed(lambda: fill(runtime, args.editions, args.items)):.1f} s")

        print("(a) search")
        with runtime.sessions() as session:
            method = best_method(session)
            if method == "fts5":
                print(f"  FTS5 index build: {timed(lambda: fts.refresh(session)) * 1000:.0f} ms")
                print(f"  FTS5 up-to-date check: {median_ms(lambda: fts.refresh(session)):.1f} ms")
            for name in (method, "like"):
                for query in QUERIES:
                    found = len(search(session, query, name).items)
                    took = median_ms(lambda: search(session, query, name))  # noqa: B023
                    print(f"  {name:10} {query!r:20} {took:7.1f} ms  ({found} items)")

        print("(b) pages (web app, test client)")
        client = create_app(runtime).test_client()
        for path in (
            "/archive/",
            "/archive/?page=5",
            "/archive/digest-0100",
            "/archive/feed.xml",
            "/archive/items.xml",
        ):
            print(f"  {path:25} {median_ms(lambda: client.get(path)):7.1f} ms")  # noqa: B023

        print("(c) static export")
        out = folder / "export"
        seconds = timed(lambda: build_archive(runtime, out))
        files = sum(1 for path in out.rglob("*") if path.is_file())
        size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
        print(f"  {files} files, {size / 1e6:.1f} MB in {seconds:.1f} s")


if __name__ == "__main__":
    main()
