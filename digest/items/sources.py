"""The list of sources: those declared in config.yaml plus those added from the command line or web app,
and what editors do to them (add, edit, switch off and on, remove), each with its audit line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest import audit
from digest.config import SOURCE_KINDS, SourceConfig
from digest.errors import DigestError, required
from digest.models import Source

FEED_SCHEMES = ("http://", "https://", "sample://")


class SourceError(DigestError):
    """A source operation that cannot be done, worded for the user."""


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name)))


def find_source(session: Session, name: str) -> Source | None:
    return session.scalar(select(Source).where(Source.name == name))


def get_source(session: Session, source_id: int) -> Source:
    return required(session.get(Source, source_id), SourceError, f"no source with id {source_id}")


def named_source(session: Session, name: str) -> Source:
    missing = f"no source named {name!r} (see `digest sources list`)"
    return required(find_source(session, name), SourceError, missing)


def add_source(session: Session, actor: audit.Actor, name: str, url: str, kind: str) -> Source:
    """A new feed, collected from the next run on ("source.added")."""
    source = _new_source(session, name, url, kind)
    audit.record(session, actor, "source.added", "source", source.id, {"name": source.name, "url": source.url})
    return source


def edit_source(
    session: Session, actor: audit.Actor, source_id: int, name: str, url: str, kind: str
) -> tuple[Source, dict[str, Any]]:
    """Apply the changes ("source.edited" when anything changed); return the source and what changed."""
    source = get_source(session, source_id)
    name, url = _checked(name, url, kind)
    other = find_source(session, name)
    if other is not None and other.id != source.id:
        raise SourceError(f"a source named {name!r} already exists")
    changed = {
        field: {"from": getattr(source, field), "to": value}
        for field, value in (("name", name), ("url", url), ("kind", kind))
        if getattr(source, field) != value
    }
    if "url" in changed:  # a new address: what the old one said about caching and health no longer applies
        source.etag = source.last_modified = source.content_hash = None
        source.consecutive_errors, source.next_fetch_at = 0, None
    source.name, source.url, source.kind = name, url, kind
    if changed:
        audit.record(session, actor, "source.edited", "source", source.id, changed)
    return source, changed


def set_enabled(session: Session, actor: audit.Actor, source: Source, enabled: bool) -> bool:
    """Switch a source on or off ("source.enabled"/"source.disabled"); False when it already was."""
    if source.enabled == enabled:
        return False
    source.enabled = enabled
    audit.record(session, actor, "source.enabled" if enabled else "source.disabled", "source", source.id)
    return True


def remove_source(session: Session, actor: audit.Actor, name: str) -> None:
    """Delete a source; the items it brought stay ("source.removed")."""
    source = named_source(session, name)
    audit.record(session, actor, "source.removed", "source", source.id, {"name": source.name, "url": source.url})
    session.delete(source)


def record_collected(session: Session, actor: audit.Actor, source_id: int, result: Mapping[str, Any]) -> None:
    """An editor had one source collected now: the trail keeps the result ("source.collected")."""
    audit.record(session, actor, "source.collected", "source", source_id, dict(result))


def sync_from_config(session: Session, declared: Iterable[SourceConfig]) -> list[str]:
    """Add the sources config.yaml declares and update their URL and kind; return the names added.
    (The configuration file is its own record: no audit line.)"""
    added = []
    for entry in declared:
        source = find_source(session, entry.name)
        if source is None:
            _new_source(session, entry.name, entry.url, entry.kind)
            added.append(entry.name)
        elif (source.url, source.kind) != (entry.url, entry.kind):
            _, url = _checked(entry.name, entry.url, entry.kind)
            source.url, source.kind = url, entry.kind
    return added


def _new_source(session: Session, name: str, url: str, kind: str) -> Source:
    name, url = _checked(name, url, kind)
    if find_source(session, name):
        raise SourceError(f"a source named {name!r} already exists")
    source = Source(name=name, url=url, kind=kind, enabled=True, consecutive_errors=0)
    session.add(source)
    session.flush()
    return source


def _checked(name: str, url: str, kind: str) -> tuple[str, str]:
    name, url = name.strip(), url.strip()
    if not name:
        raise SourceError("a source needs a name")
    if kind not in SOURCE_KINDS:
        raise SourceError(f"unknown kind {kind!r}; use one of {', '.join(SOURCE_KINDS)}")
    if not url.lower().startswith(FEED_SCHEMES):
        raise SourceError(f"{url!r} is not a feed URL (http://, https:// or sample://)")
    if url.lower().startswith(("http://", "https://")) and not _hostname(url):
        raise SourceError(f"{url!r} names no host")
    return name, url


def _hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # a malformed [IPv6] part
        return None
