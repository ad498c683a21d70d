"""Deduplication: per source by GUID → link → content hash; across sources and submissions by
canonical URL and near-identical title; rejected and published items are tombstones."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from difflib import SequenceMatcher
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from digest.models import Item
from digest.titles import MIN_FUZZY_TITLE_LENGTH, title_edges, title_index, title_key
from sources.entry import Candidate

TITLE_CANDIDATE_STATUSES = ("pending", "approved", "rejected", "published")
# Only a pending item follows its source; anything an editor decided on stays as decided (a
# rejected or published item is a tombstone: its entry never re-enters the queue).
UPDATABLE_STATUSES = ("pending",)
SIMILAR_TITLE_RATIO = 0.94
MAX_FUZZY_COMPARISONS = 64  # per bucket, so a flood of look-alike titles stays cheap
MAX_TITLE_MATCHES = 256  # stored look-alikes a submission's title is compared with (the newest half per edge)
IN_CHUNK = 400

_NUMBER = re.compile(r"\d+")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def content_hash(candidate: Candidate) -> str:
    """Changes whenever something an editor would see changes."""
    parts = (
        candidate.title,
        candidate.summary,
        candidate.url or "",
        candidate.image_url or "",
        _iso(candidate.starts_at),
        _iso(candidate.ends_at),
        _iso(candidate.deadline),
        candidate.location or "",
    )
    return sha256("\x1f".join(parts))


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def assign_dedup_keys(source_id: int, candidates: Sequence[Candidate]) -> None:
    """Each candidate's per-source key: its GUID, else its link, else its title+content.

    A GUID (or link) shared by entries with different content identifies nothing, so for those
    entries the next rule applies: some feeds repeat one GUID, or the home page, for every entry.
    """
    guid_hashes: dict[str, set[str]] = defaultdict(set)
    link_hashes: dict[str, set[str]] = defaultdict(set)
    for candidate in candidates:
        if candidate.guid:
            guid_hashes[candidate.guid].add(candidate.content_hash)
        if candidate.url:
            link_hashes[candidate.url].add(candidate.content_hash)
    for candidate in candidates:
        if candidate.guid and len(guid_hashes[candidate.guid]) == 1:
            identity = "guid:" + candidate.guid
        elif candidate.url and len(link_hashes[candidate.url]) == 1:
            identity = "link:" + candidate.url
        else:
            identity = "hash:" + sha256(candidate.title + "\x1f" + candidate.summary)
        candidate.dedup_key = sha256(f"{source_id}\x1f{identity}")


def unique_urls(candidates: Sequence[Candidate]) -> set[str]:
    """The specific links that name exactly one entry in this fetch of the feed."""
    counts = Counter(candidate.url for candidate in candidates if is_specific_url(candidate.url))
    return {url for url, count in counts.items() if count == 1 and url}


def find_in_source(session: Session, source_id: int, candidates: Sequence[Candidate]) -> dict[str, Item]:
    """Stored items of this source matching the candidates, by dedup key or URL."""
    found: dict[str, Item] = {}
    for chunk in _chunks_of(candidates, IN_CHUNK // 2):
        keys = {candidate.dedup_key for candidate in chunk}
        urls = {candidate.url for candidate in chunk if candidate.url}
        query = select(Item).where(Item.source_id == source_id, or_(Item.dedup_key.in_(keys), Item.url.in_(urls)))
        for item in session.scalars(query):
            found.setdefault(f"key:{item.dedup_key}", item)
            if item.url:
                found.setdefault(f"url:{item.url}", item)
    return found


def match_in_source(candidate: Candidate, found: dict[str, Item], urls: set[str]) -> Item | None:
    """The stored item with the same key (GUID, else link, else content: see assign_dedup_keys),
    else the one with the same link when the link names one entry only, as when a site moves to a
    new CMS and every GUID changes. A GUID is never looked up on its own: an item stored while its
    feed repeated one GUID for everything must not be taken for a later entry with that GUID."""
    item = found.get(f"key:{candidate.dedup_key}")
    if item is None and candidate.url in urls:
        item = found.get(f"url:{candidate.url}")
    return item


def is_specific_url(url: str | None) -> bool:
    """A URL that can identify one story: not a bare home page."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.path not in ("", "/") or bool(parts.query)


def find_duplicate(session: Session, candidate: Candidate, since: datetime) -> Item | None:
    """The stored item one new entry (a submission) duplicates, by RunIndex.is_duplicate's rules:
    the same specific URL (same day for an event), else a near-identical title of the same kind.

    Titles are looked up through Item's indexed title keys (see title_index), never scanned: this runs
    while a submission holds the database's write lock. The same title wins over a look-alike."""
    slot = _slot(candidate.kind, candidate.starts_at)
    if is_specific_url(candidate.url):
        for item in session.scalars(select(Item).where(Item.url == candidate.url).order_by(Item.id)):
            if _slot(item.kind, item.starts_at) == slot:
                return item
    key, head, tail = title_index(candidate.title)
    if key is None:
        return None
    day = _day(candidate.kind, candidate.starts_at)
    recent = select(Item.id, Item.title_key, Item.starts_at).where(
        Item.kind == candidate.kind,
        Item.status.in_(TITLE_CANDIDATE_STATUSES),
        or_(Item.collected_at >= since, Item.starts_at >= since),
    )
    same = recent.where(Item.title_key == key).order_by(Item.id).limit(MAX_TITLE_MATCHES)
    for item_id, _key, starts_at in session.execute(same):
        if _day(candidate.kind, starts_at) == day:
            return session.get(Item, item_id)
    if head is None:
        return None
    found: set[int] = set()
    for column, edge in ((Item.title_head, head), (Item.title_tail, tail)):
        # One query per edge, read newest first along its own index and cut at the limit. As one OR query,
        # SQLite read every look-alike of either edge and sorted them all before the limit: a common ending
        # ("… in Europe and beyond") made each submission read thousands of rows inside the write lock.
        alike = recent.where(column == edge).order_by(Item.id.desc()).limit(MAX_TITLE_MATCHES // 2)
        found.update(
            item_id
            for item_id, other, starts_at in session.execute(alike)
            if other and _day(candidate.kind, starts_at) == day and similar(key, other)  # numbers too
        )  # fmt: skip
    return session.get(Item, min(found)) if found else None


class RunIndex:
    """Cross-source duplicate detection for one collection run.

    Stored items are read lazily (URLs per batch, titles once per kind, bounded to recent items).
    Items stored during the run are staged per source and kept once that source's transaction
    commits, so the run sees its own work and a rolled-back source leaves no trace.
    """

    def __init__(self, now: datetime, title_days: int) -> None:
        self._title_since = now - timedelta(days=title_days)
        self._urls: dict[str, set[str]] = defaultdict(set)  # url -> slots
        self._loaded_urls: set[str] = set()
        self._titles: dict[str, _TitleBuckets] = {}
        self._staged: list[Candidate] = []
        self._staged_urls: dict[str, set[str]] = defaultdict(set)
        self._staged_titles: dict[str, _TitleBuckets] = defaultdict(_TitleBuckets)

    def load_urls(self, session: Session, urls: Iterable[str]) -> None:
        wanted = {url for url in urls if is_specific_url(url)} - self._loaded_urls
        for chunk in _chunks(wanted):
            query = select(Item.url, Item.kind, Item.starts_at).where(Item.url.in_(chunk))
            for url, kind, starts_at in session.execute(query):
                self._urls[url].add(_slot(kind, starts_at))
        self._loaded_urls |= wanted

    def is_duplicate(self, session: Session, candidate: Candidate) -> bool:
        """Same canonical URL, or a near-identical title of the same kind, as an item already known."""
        slot = _slot(candidate.kind, candidate.starts_at)
        if is_specific_url(candidate.url):
            url = candidate.url or ""
            if slot in self._urls.get(url, ()) or slot in self._staged_urls.get(url, ()):
                return True
        key, day = candidate.title_key, _day(candidate.kind, candidate.starts_at)
        if self._title_buckets(session, candidate.kind).contains(key, day):
            return True
        staged = self._staged_titles.get(candidate.kind)
        return staged is not None and staged.contains(key, day)

    def stage(self, candidate: Candidate) -> None:
        self._staged.append(candidate)
        if candidate.url:
            self._staged_urls[candidate.url].add(_slot(candidate.kind, candidate.starts_at))
        day = _day(candidate.kind, candidate.starts_at)
        self._staged_titles[candidate.kind].add(candidate.title_key, day)

    def commit(self) -> None:
        for candidate in self._staged:
            if candidate.url:
                self._urls[candidate.url].add(_slot(candidate.kind, candidate.starts_at))
            if candidate.kind in self._titles:
                day = _day(candidate.kind, candidate.starts_at)
                self._titles[candidate.kind].add(candidate.title_key, day)
        self.discard()

    def discard(self) -> None:
        self._staged.clear()
        self._staged_urls.clear()
        self._staged_titles.clear()

    def _title_buckets(self, session: Session, kind: str) -> _TitleBuckets:
        if kind not in self._titles:
            buckets = _TitleBuckets()
            query = select(Item.title, Item.starts_at).where(
                Item.kind == kind,
                Item.status.in_(TITLE_CANDIDATE_STATUSES),
                or_(Item.collected_at >= self._title_since, Item.starts_at >= self._title_since),
            )
            for title, starts_at in session.execute(query):
                buckets.add(title_key(title), _day(kind, starts_at))
            self._titles[kind] = buckets
        return self._titles[kind]


def _slot(kind: str, starts_at: datetime | None) -> str:
    """Items sharing a URL are one story, except occurrences of an event on different days."""
    if kind == "event":
        return f"event:{starts_at.date().isoformat() if starts_at else ''}"
    return "story"


def _day(kind: str, starts_at: datetime | None) -> date | None:
    # The same title on another day is another occurrence of a recurring event, not a duplicate.
    return starts_at.date() if kind == "event" and starts_at else None


class _TitleBuckets:
    """Title keys grouped so a fuzzy comparison only looks at plausible look-alikes: titles that
    share their first or last three words and carry the same numbers (so "Report 2026" and
    "Report 2027" are never compared, let alone merged)."""

    def __init__(self) -> None:
        self._exact: set[tuple[str, date | None]] = set()
        self._buckets: dict[tuple[str, date | None, tuple[str, ...]], list[str]] = defaultdict(list)

    def add(self, key: str, day: date | None) -> None:
        if not key:
            return
        self._exact.add((key, day))
        if len(key) >= MIN_FUZZY_TITLE_LENGTH:
            numbers, edges = _signature(key)
            for edge in edges:
                self._buckets[(edge, day, numbers)].append(key)

    def contains(self, key: str, day: date | None) -> bool:
        if not key:
            return False
        if (key, day) in self._exact:
            return True
        if len(key) < MIN_FUZZY_TITLE_LENGTH:
            return False
        numbers, edges = _signature(key)
        for edge in edges:
            for other in self._buckets.get((edge, day, numbers), [])[-MAX_FUZZY_COMPARISONS:]:
                if similar(key, other):
                    return True
        return False


@lru_cache(maxsize=16384)
def _signature(key: str) -> tuple[tuple[str, ...], tuple[str, str]]:
    """The numbers in a title key, and its first and last three words."""
    return tuple(_NUMBER.findall(key)), title_edges(key)


def similar(first: str, second: str) -> bool:
    """Near-identical title keys: a typo or a word apart, but never different numbers (editions, years)."""
    if abs(len(first) - len(second)) > max(len(first), len(second)) * (1 - SIMILAR_TITLE_RATIO):
        return False
    if _NUMBER.findall(first) != _NUMBER.findall(second):
        return False
    matcher = SequenceMatcher(None, first, second, autojunk=False)
    return matcher.quick_ratio() >= SIMILAR_TITLE_RATIO and matcher.ratio() >= SIMILAR_TITLE_RATIO


def _chunks_of(values: Sequence[Candidate], size: int) -> Iterable[Sequence[Candidate]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), IN_CHUNK):
        yield ordered[start : start + IN_CHUNK]
