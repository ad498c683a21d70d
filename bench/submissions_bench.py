"""Submission benchmark (not a test): prints figures, asserts nothing.

Fills a fresh database with QUEUE items (news, collected in the last weeks, so all of them are in
the near-identical-title window), then sends SUBMISSIONS valid submissions through the real web app
(Flask test client: validation, Markdown, dedup against the queue, the transaction, the confirmation
handed to the background mailer writing to an outbox folder) and reports:

  (a) the time per submission through POST /api/submissions: median and 95th percentile;
  (b) the dedup lookup alone (sources.dedup.find_duplicate) against that queue: median;
  (c) one status pass telling every submitter of an approval (tell_submitters): total and per email.

    .venv/bin/python bench/submissions_bench.py [--queue 20000] [--submissions 200] [--database-url URL]
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import bench_arguments, bench_setup, percentile

from digest.models import Item
from digest.runtime import Runtime
from digest.submissions.notices import tell_submitters
from digest.web import create_app
from sources import dedup
from sources.submissions import SubmittedItem, as_candidate
from tests.submissions.helpers import valid

UNKNOWN_STORY = SubmittedItem(
    kind="news",
    title="A story about wood clusters nobody has told yet",
    summary_html="<p>x</p>",
    organisation="O",
    contact_name="N",
    contact_email="n@example.eu",
    url="https://elsewhere.example.eu/unique",
)  # what a new submission looks like to the dedup lookup: found nowhere in the queue
WORDS = ("cluster", "hydrogen", "textile", "maritime", "digital", "agrifood", "battery", "mobility", "health", "space",
         "wood", "aerospace")  # fmt: skip


def fill_queue(runtime: Runtime, count: int) -> None:
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        title = (
            f"{WORDS[n % 12].title()} {WORDS[(n // 12) % 12]} news number {n} from the {WORDS[(n // 7) % 12]} sector"
        )
        key = dedup.sha256(title)
        rows.append({
            "kind": "news", "status": "pending", "title": title, "summary": "<p>Text.</p>",
            "url": f"https://news.example.eu/{n}", "topics": [], "origin": "feed", "dedup_key": key,
            "content_hash": key, "collected_at": now - timedelta(days=n % 50), "featured": False,
        })  # fmt: skip
    with runtime.sessions() as session, session.begin():
        for start in range(0, len(rows), 5000):
            session.execute(insert(Item), rows[start : start + 5000])


def main() -> None:
    options = bench_arguments(__doc__, queue=20_000, submissions=200)
    with bench_setup(options.database_url, submissions={"rate_limit_per_hour": 1_000_000}) as (_, runtime):
        fill_queue(runtime, options.queue)
        app = create_app(runtime)
        client = app.test_client()
        timings = []
        for n in range(options.submissions):
            body = valid("news", title=f"Submitted story {n} about {WORDS[n % 12]} clusters in Europe",
                         url=f"https://cluster.example.eu/story/{n}")  # fmt: skip
            started = time.perf_counter()
            response = client.post("/api/submissions", json=body)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 201, response.get_json()
        app.extensions["digest.mailer"].flush(timeout=600)

        candidate = as_candidate(UNKNOWN_STORY, datetime.now(UTC))
        lookups = []
        with runtime.sessions() as session:
            for _ in range(20):
                started = time.perf_counter()
                dedup.find_duplicate(session, candidate, datetime.now(UTC) - timedelta(days=60))
                lookups.append(time.perf_counter() - started)

        with runtime.sessions() as session, session.begin():
            session.execute(update(Item).where(Item.origin == "submission").values(status="approved"))
            told = session.scalar(select(Item.id).where(Item.origin == "submission").limit(1))
        started = time.perf_counter()
        sent = tell_submitters(runtime.config, runtime.sessions, runtime.secret_key)
        pass_seconds = time.perf_counter() - started
        app.extensions["digest.mailer"].close()

    backend = (options.database_url or "sqlite").split(":")[0]
    print(f"queue: {options.queue} news items in the title window; backend: {backend}")
    median, p95 = statistics.median(timings) * 1000, percentile(timings, 0.95) * 1000
    print(f"(a) POST /api/submissions, {options.submissions} submissions: median {median:.1f} ms, p95 {p95:.1f} ms")
    print(f"(b) dedup lookup against the queue: median {statistics.median(lookups) * 1000:.1f} ms")
    print(f"(c) status pass: {sent} approval emails to the outbox in {pass_seconds:.2f} s "
          f"({pass_seconds / max(sent, 1) * 1000:.1f} ms each){'' if told else ' (nothing to tell)'}")  # fmt: skip


if __name__ == "__main__":
    main()
