"""Email benchmark (not a test): prints figures, asserts nothing.

Builds the 40-item week the tests use (12 news items, 10 events, 10 open calls, 8 achievements,
long titles, summaries cut to teasers, images on some) in a fresh SQLite database, assembles the
weekly digest and measures:

  (a) one render (Jinja2 → MJML → mjml-python → premailer, plus the text part): time, median of 5;
  (b) the size of what a subscriber gets: the HTML personalised with full-length links, and the text;
  (c) the same week with EXTRA more news items, trimmed to fit under the 100 KB limit: kept, time.

    .venv/bin/python bench/email_bench.py [--extra 60] [--languages en,fr,de,es]

With several languages, (a)-(c) are measured for the email in each (the chrome translated, the items
as written), one language after the other in each of 3 rounds; sizes do not vary between rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import bench_runtime

from digest.editions.assembly import assemble_digest
from digest.editions.compose import SIZE_LIMIT, Composition, compose, email_size
from digest.runtime import Runtime
from tests.edition_helpers import DAY, MONDAY, forty_item_week, item_at, long_summary


def timed_compose(runtime: Runtime, extra: int, language: str | None = None) -> tuple[float, Composition]:
    with runtime.sessions() as session:
        forty_item_week(session)
        for n in range(extra):
            item_at(session, f"Extra news {n}: clusters report on a year of cooperation", MONDAY - DAY,
                    summary=long_summary(f"extra {n}"), url=f"https://clusters.example.eu/extra/{n}")  # fmt: skip
        edition = assemble_digest(session, "Europe/Brussels", now=MONDAY).require()
        runs = []
        for _ in range(5 if not extra else 1):
            started = time.perf_counter()
            result = compose(runtime.config, edition, MONDAY, language=language)
            runs.append(time.perf_counter() - started)
        session.rollback()
    return statistics.median(runs), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra", type=int, default=60)
    parser.add_argument("--languages", default="", help="comma-separated, e.g. en,fr,de,es")
    args = parser.parse_args()
    if args.languages:
        by_language(args.languages.split(","), args.extra)
        return
    with tempfile.TemporaryDirectory() as folder:
        runtime = bench_runtime(Path(folder), f"sqlite:///{Path(folder) / 'bench.db'}")
        seconds, forty = timed_compose(runtime, 0)
        print(f"40-item digest: one render {seconds * 1000:.0f} ms (median of 5)")
        print(
            f"  HTML {email_size(forty.html) / 1024:.1f} KB personalised "
            f"(limit {SIZE_LIMIT / 1000:.0f} KB), text {len(forty.text.encode()) / 1024:.1f} KB"
        )
        runtime.close()
    with tempfile.TemporaryDirectory() as folder:
        runtime = bench_runtime(Path(folder), f"sqlite:///{Path(folder) / 'bench.db'}")
        seconds, big = timed_compose(runtime, args.extra)
        print(
            f"{40 + args.extra}-item digest: whole {big.size / 1024:.1f} KB, trimmed to {big.kept} items, "
            f"{email_size(big.html) / 1024:.1f} KB, in {seconds * 1000:.0f} ms"
        )
        runtime.close()


def by_language(languages: list[str], extra: int) -> None:
    print(f"load average at start: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    renders: dict[str, list[float]] = {language: [] for language in languages}
    sizes: dict[str, str] = {}
    for _ in range(3):
        for language in languages:
            with tempfile.TemporaryDirectory() as folder:
                runtime = bench_runtime(Path(folder), f"sqlite:///{Path(folder) / 'bench.db'}")
                seconds, forty = timed_compose(runtime, 0, language)
                _, big = timed_compose(runtime, extra, language)
                runtime.close()
            renders[language].append(seconds)
            sizes[language] = (
                f"40 items: HTML {email_size(forty.html):,} B, text {len(forty.text.encode()):,} B; "
                f"{40 + extra} items: whole {big.size:,} B, kept {big.kept} in {email_size(big.html):,} B"
            )
    print(f"load average at end: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    for language in languages:
        times = sorted(renders[language])
        print(
            f"{language}: one render {statistics.median(times) * 1000:.0f} ms "
            f"(range {times[0] * 1000:.0f}–{times[-1] * 1000:.0f}); {sizes[language]} (limit {SIZE_LIMIT:,} B)"
        )


if __name__ == "__main__":
    main()
