"""The list of sources: those declared in config.yaml plus those added from the command line or web app."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.config import SOURCE_KINDS, SourceConfig
from digest.errors import DigestError
from digest.models import Source


class SourceError(DigestError):
    """A source operation that cannot be done, worded for the user."""


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name)))


def find_source(session: Session, name: str) -> Source | None:
    return session.scalar(select(Source).where(Source.name == name))


def add_source(session: Session, name: str, url: str, kind: str) -> Source:
    name = name.strip()
    if not name:
        raise SourceError("a source needs a name")
    if kind not in SOURCE_KINDS:
        raise SourceError(f"unknown kind {kind!r}; use one of {', '.join(SOURCE_KINDS)}")
    if not url.startswith(("http://", "https://", "file://", "sample://")):
        raise SourceError(f"{url!r} is not a feed URL (http://, https://, file:// or sample://)")
    if find_source(session, name):
        raise SourceError(f"a source named {name!r} already exists")
    source = Source(name=name, url=url, kind=kind, enabled=True, consecutive_errors=0)
    session.add(source)
    session.flush()
    return source


def remove_source(session: Session, name: str) -> None:
    source = find_source(session, name)
    if source is None:
        raise SourceError(f"no source named {name!r} (see `digest sources list`)")
    session.delete(source)


def sync_from_config(session: Session, declared: Iterable[SourceConfig]) -> list[str]:
    """Add the sources config.yaml declares and update their URL and kind; return the names added."""
    added = []
    for entry in declared:
        source = find_source(session, entry.name)
        if source is None:
            add_source(session, entry.name, entry.url, entry.kind)
            added.append(entry.name)
        elif (source.url, source.kind) != (entry.url, entry.kind):
            source.url, source.kind = entry.url, entry.kind
    return added
