"""Orchestration: fetch many sources at once, parse off the storing thread, store Items, record health.

Fetching and parsing run in a bounded thread pool (optionally parsing in a process pool); all
database writes happen on the calling thread, one transaction per source, as results arrive, so a
slow source never holds the others up and SQLite never sees two writers from one run.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from digest.config import CollectConfig
from digest.db import transaction
from digest.errors import DigestError
from digest.models import Item, Source
from digest.runtime import Runtime
from sources import dedup, health
from sources.entry import Candidate, ParseError, item_fields
from sources.feeds import parse_feed
from sources.fetcher import FetchError, build_session, fetch
from sources.ical import looks_like_calendar, parse_calendar
from sources.normalise import build_candidate
from sources.settings import collector_settings

log = logging.getLogger(__name__)

AUTO_PARSE_PROCESSES_FROM = 16  # sources in one run before `parse_processes: -1` (auto) uses processes
MAX_AUTO_PARSE_PROCESSES = 4


class UnknownSource(DigestError):
    """collect() was asked for a source name that is not in the database."""


@dataclass
class CollectResult:
    source: str
    status: str  # "ok" | "not_modified" | "error"
    fetched: int = 0  # entries seen in the feed
    new: int = 0
    duplicates: int = 0
    updated: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "fetched": self.fetched,
            "new": self.new,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "error": self.error,
        }


@dataclass(frozen=True)
class _Job:
    """What a worker needs to know about a source: a plain copy, never an ORM object across threads."""

    source_id: int
    name: str
    url: str
    kind: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None


@dataclass
class _Outcome:
    job: _Job
    status: str
    candidates: list[Candidate] = field(default_factory=list)
    fetched: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    retry_after: float | None = None
    new_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


def collect(
    runtime: Runtime,
    source_name: str | None = None,
    *,
    due_only: bool = False,
    now: datetime | None = None,
    on_result: Callable[[CollectResult], None] | None = None,
    settings: CollectConfig | None = None,
) -> list[CollectResult]:
    """Collect every enabled source (or the one named); never raises for a failing source."""
    settings = settings or collector_settings(runtime)
    now = now or datetime.now(UTC)
    jobs = _select_jobs(runtime, source_name, due_only, now)
    if not jobs:
        return []
    context = _ParseContext(now=now, zone=runtime.config.site.timezone, settings=settings)
    index = dedup.RunIndex(now, settings.dedup_title_days)
    results: dict[str, CollectResult] = {}
    arrived: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
    with _pools(settings, len(jobs)) as (fetchers, parsers), _SessionPool(settings) as sessions:
        for job in jobs:
            fetchers.submit(_work, job, context, sessions, parsers, arrived)
        # Outcomes are stored as they arrive and then dropped, so a run holds few feeds in memory.
        for _ in jobs:
            result = _store(runtime, arrived.get(), index, context)
            results[result.source] = result
            if on_result is not None:
                on_result(result)
    return [results[job.name] for job in jobs]


def _select_jobs(runtime: Runtime, source_name: str | None, due_only: bool, now: datetime) -> list[_Job]:
    with runtime.sessions() as session:
        query = select(Source).order_by(Source.name)
        if source_name is not None:
            query = query.where(Source.name == source_name)
        else:
            query = query.where(Source.enabled.is_(True))
        if due_only:
            query = query.where(or_(Source.next_fetch_at.is_(None), Source.next_fetch_at <= now))
        sources = list(session.scalars(query))
        if source_name is not None and not sources and not due_only:
            raise UnknownSource(f"no source named {source_name!r} (see `digest sources list`)")
        return [
            _Job(s.id, s.name, s.url, s.kind, s.etag, s.last_modified, s.content_hash) for s in sources
        ]


@contextmanager
def _pools(settings: CollectConfig, job_count: int) -> Iterator[tuple[Executor, Executor | None]]:
    workers = max(1, min(settings.concurrency, job_count))
    processes = parse_process_count(settings, job_count)
    parsers = ProcessPoolExecutor(processes, mp_context=_process_context()) if processes else None
    fetchers = ThreadPoolExecutor(workers, thread_name_prefix="collect")
    try:
        yield fetchers, parsers
    finally:
        # On an interruption, sources not yet started are dropped; those under way finish.
        fetchers.shutdown(wait=True, cancel_futures=True)
        if parsers is not None:
            parsers.shutdown(cancel_futures=True)


def parse_process_count(settings: CollectConfig, job_count: int) -> int:
    """Parsing is CPU work that threads cannot share (the GIL): big runs get processes of their own."""
    if settings.parse_processes >= 0:
        return settings.parse_processes if job_count > 1 else 0
    cpus = os.cpu_count() or 1
    return min(cpus, MAX_AUTO_PARSE_PROCESSES) if cpus > 1 and job_count >= AUTO_PARSE_PROCESSES_FROM else 0


def _process_context() -> multiprocessing.context.BaseContext:
    # forkserver: forking a process that already runs threads is not safe; the server process
    # imports the parsing code once and every worker starts from it ready to go.
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sources.collector"])
    return context


class _SessionPool:
    """One requests.Session per worker thread (a Session is not thread-safe), all closed at the end."""

    def __init__(self, settings: CollectConfig) -> None:
        self._settings = settings
        self._local = threading.local()
        self._all: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = build_session(self._settings)
            self._local.session = session
            with self._lock:
                self._all.append(session)
        return session

    def __enter__(self) -> _SessionPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        for session in self._all:
            session.close()


@dataclass(frozen=True)
class _ParseContext:
    now: datetime
    zone: str
    settings: CollectConfig


# ------------------------------------------------------------------------ worker side


def _work(
    job: _Job,
    context: _ParseContext,
    sessions: _SessionPool,
    parsers: Executor | None,
    arrived: queue.SimpleQueue[_Outcome],
) -> None:
    """Fetch and parse one source; every failure becomes an error outcome, never an exception."""
    outcome = _Outcome(job, "error", error="internal error: the collector stopped before this source")
    try:
        outcome = _fetch_and_parse(job, context, sessions, parsers)
    except Exception as error:  # a bug must cost one source, not the run
        log.exception("collecting %s failed unexpectedly", job.name)
        outcome = _Outcome(job, "error", error=f"internal error: {type(error).__name__}: {error}"[:500])
    finally:
        arrived.put(outcome)


def _fetch_and_parse(
    job: _Job, context: _ParseContext, sessions: _SessionPool, parsers: Executor | None
) -> _Outcome:
    settings = context.settings
    try:
        response = fetch(
            sessions.get(), job.url, settings, etag=job.etag, last_modified=job.last_modified, now=context.now
        )
    except FetchError as error:
        return _Outcome(job, "error", error=str(error), retry_after=error.retry_after)
    outcome = _Outcome(
        job, "not_modified", new_url=response.permanent_url, etag=response.etag,
        last_modified=response.last_modified,
    )  # fmt: skip
    if response.not_modified:
        return outcome
    outcome.body_hash = hashlib.sha256(response.body).hexdigest()
    if outcome.body_hash == job.content_hash:
        return outcome  # same bytes as the last successful parse: nothing to do
    arguments = (response.body, response.headers, response.url or job.url, job.kind, context)
    try:
        candidates, fetched, warnings = _parse(parsers, arguments)
    except ParseError as error:
        return _Outcome(job, "error", error=str(error))
    outcome.status, outcome.candidates, outcome.fetched, outcome.warnings = "ok", candidates, fetched, warnings
    return outcome


def _parse(parsers: Executor | None, arguments: tuple[Any, ...]) -> tuple[list[Candidate], int, list[str]]:
    if parsers is not None:
        try:
            return parsers.submit(parse_stage, *arguments).result()
        except BrokenProcessPool:
            log.warning("the parsing processes died; parsing in the collector's own threads")
    return parse_stage(*arguments)


def parse_stage(
    body: bytes, headers: dict[str, str], url: str, kind: str, context: _ParseContext
) -> tuple[list[Candidate], int, list[str]]:
    """Parse a fetched body (RSS, Atom or iCalendar) and normalise its entries: pure, no I/O."""
    zone = ZoneInfo(context.zone)
    settings = context.settings
    if looks_like_calendar(body, headers):
        parsed = parse_calendar(
            body, now=context.now, default_zone=context.zone,
            future_days=settings.recurrence_days, past_days=settings.past_event_days,
            max_occurrences=settings.max_items_per_source,
        )  # fmt: skip
    else:
        parsed = parse_feed(body, headers, url)
    candidates = []
    for entry in parsed.entries:
        candidate = build_candidate(
            entry, source_kind=kind, base=parsed.base_url or url, now=context.now, zone=zone,
            bundled=url.startswith("sample://"),
            max_summary_chars=settings.max_summary_chars,
        )  # fmt: skip
        if candidate is not None:
            candidates.append(candidate)
    skipped = len(parsed.entries) - len(candidates)
    warnings = list(parsed.warnings)
    if skipped:
        warnings.append(f"{skipped} entries without a title or text were skipped")
    return candidates, len(parsed.entries), warnings


# ------------------------------------------------------------------------ storing side


def _store(runtime: Runtime, outcome: _Outcome, index: dedup.RunIndex, context: _ParseContext) -> CollectResult:
    job = outcome.job
    result = CollectResult(job.name, outcome.status, fetched=outcome.fetched, warnings=list(outcome.warnings))
    try:
        with transaction(runtime.sessions) as session:
            # The source row is written first: a concurrent run (scheduler and CLI) storing the
            # same source waits here (row lock on PostgreSQL, write lock on SQLite) and then sees
            # what this one stored.
            if outcome.status == "error":
                stored = _record_failure(session, outcome, context)
            else:
                stored = _record_success(session, outcome, context)
            if not stored:
                return _failed(result, "the source was removed while it was being collected")
            if outcome.status == "ok":
                limit = context.settings.max_items_per_source
                result.new, result.duplicates, result.updated, left_out = _store_items(
                    session, job.source_id, outcome.candidates, index, context.now, limit
                )
                if left_out:
                    result.warnings.append(
                        f"{left_out} new items left out: one fetch adds at most {limit} "
                        "(collect.max_items_per_source)"
                    )
                    session.execute(
                        update(Source)
                        .where(Source.id == job.source_id)
                        .values(**health.warning_values(result.warnings))
                    )
        index.commit()
    except Exception as error:  # a database error (or a bug) costs this source, not the run
        index.discard()
        log.exception("storing items of %s failed", job.name)
        message = f"could not store the items: {type(error).__name__}: {str(error).splitlines()[0][:300]}"
        _record_store_failure(runtime, job, message, context)
        return _failed(result, message)
    if outcome.status == "error":
        result.error = outcome.error
    for warning in result.warnings:
        log.warning("%s: %s", job.name, warning)
    return result


def _failed(result: CollectResult, message: str) -> CollectResult:
    result.status, result.error = "error", message
    result.new = result.duplicates = result.updated = 0
    return result


def _record_success(session: Session, outcome: _Outcome, context: _ParseContext) -> bool:
    """One UPDATE: health, and validators (kept only after a successful parse, so a bad body is
    fetched in full next time; a 304 without validators keeps the ones we have)."""
    values = health.success_values(outcome.status, context.now, context.settings)
    values |= health.warning_values(outcome.warnings)
    if outcome.status == "ok" or outcome.etag:
        values["etag"] = outcome.etag
    if outcome.status == "ok" or outcome.last_modified:
        values["last_modified"] = outcome.last_modified
    if outcome.body_hash:
        values["content_hash"] = outcome.body_hash
    if outcome.new_url:
        log.info("%s moved permanently to %s", outcome.job.name, outcome.new_url)
        values["url"] = outcome.new_url
    touched = session.execute(update(Source).where(Source.id == outcome.job.source_id).values(**values))
    return bool(touched.rowcount)


def _record_failure(session: Session, outcome: _Outcome, context: _ParseContext) -> bool:
    touched = session.execute(
        update(Source).where(Source.id == outcome.job.source_id).values(last_fetch_at=context.now)
    )
    source = session.get(Source, outcome.job.source_id, populate_existing=True) if touched.rowcount else None
    if source is None:
        return False
    health.record_failure(source, outcome.error or "error", context.now, context.settings, outcome.retry_after)
    return True


def _record_store_failure(runtime: Runtime, job: _Job, message: str, context: _ParseContext) -> None:
    try:
        with transaction(runtime.sessions) as session:
            source = session.get(Source, job.source_id)
            if source is not None:
                health.record_failure(source, message, context.now, context.settings)
    except Exception:
        log.exception("could not record the failure of %s", job.name)


def _store_items(
    session: Session, source_id: int, candidates: list[Candidate], index: dedup.RunIndex, now: datetime, limit: int
) -> tuple[int, int, int, int]:
    """Insert new items (at most `limit`, in the feed's order), update pending ones that changed;
    return (new, duplicates, updated, new ones left out over the limit)."""
    dedup.assign_dedup_keys(source_id, candidates)
    unique_urls = dedup.unique_urls(candidates)
    found = dedup.find_in_source(session, source_id, candidates) if _has_items(session, source_id) else {}
    index.load_urls(session, [candidate.url for candidate in candidates if candidate.url])
    duplicates = updated = left_out = 0
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.dedup_key in seen:
            duplicates += 1
            continue
        seen.add(candidate.dedup_key)
        existing = dedup.match_in_source(candidate, found, unique_urls)
        if existing is not None:
            if existing.status in dedup.UPDATABLE_STATUSES and existing.content_hash != candidate.content_hash:
                _update(existing, candidate)
                updated += 1
            else:
                duplicates += 1  # unchanged, or a tombstone: approved/rejected/published stay as they are
            continue
        if index.is_duplicate(session, candidate):
            duplicates += 1
            continue
        if len(rows) >= limit:
            left_out += 1
            continue
        rows.append(item_fields(candidate, origin="feed", source_id=source_id, collected_at=now))
        index.stage(candidate)
    if rows:
        # One executemany: the ORM unit of work would insert row by row to fetch each new id.
        session.execute(insert(Item.__table__), rows)
    return len(rows), duplicates, updated, left_out


def _has_items(session: Session, source_id: int) -> bool:
    return session.scalar(select(Item.id).where(Item.source_id == source_id).limit(1)) is not None


# What a pending item keeps when its feed stops stating it: a known date is never dropped because the feed went quiet.
_KEPT_WHEN_MISSING = (
    "url", "image_url", "organisation", "country", "topics", "published_at", "starts_at", "ends_at", "deadline",
    "location", "timezone", "guid",
)


def _update(item: Item, candidate: Candidate) -> None:
    """A pending item follows its source, but for what the source no longer states (_KEPT_WHEN_MISSING)."""
    item.title = candidate.title
    item.summary = candidate.summary
    for name in _KEPT_WHEN_MISSING:
        setattr(item, name, getattr(candidate, name) or getattr(item, name))
    if candidate.starts_at is not None or candidate.deadline is not None:
        item.all_day = candidate.all_day
    item.dedup_key = candidate.dedup_key
    item.content_hash = candidate.content_hash
