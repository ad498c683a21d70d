"""Search across published items (title, summary, organisation, country, kind) and sent editions.

Served from the database: SQLite FTS5 where the SQLite library has it, PostgreSQL full-text search
where PostgreSQL runs, and a plain LIKE search everywhere else. Every word must match (a word also
matches as the start of a longer one: "hydro" finds "hydrogen").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.dialects.postgresql import to_tsquery
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive import fts
from archive.published import editions_carrying, is_published_item, is_sent, without_documents
from archive.search_terms import terms_of
from digest.models import Edition, Item
from digest.search_document import CONFIG, EDITION_WORDS, KIND_WORDS, edition_vector, item_vector

MAX_ITEMS = 50
MAX_EDITIONS = 20
METHODS = ("fts5", "postgresql", "like")

Model = type[Item] | type[Edition]
Visible = ColumnElement[bool]


@dataclass(frozen=True)
class ItemHit:
    item: Item
    editions: list[Edition]  # the sent editions that carried it, newest first


@dataclass(frozen=True)
class SearchResults:
    query: str
    method: str
    items: list[ItemHit] = field(default_factory=list)
    editions: list[Edition] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.items and not self.editions


def best_method(session: Session) -> str:
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        return "postgresql"
    if dialect == "sqlite" and fts.available(session):
        return "fts5"
    return "like"


def search(session: Session, query: str, method: str | None = None) -> SearchResults:
    """Published items and sent editions matching every word of the query, best first."""
    terms = terms_of(query)
    method = method or best_method(session)
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}")
    if not terms:
        return SearchResults(query=query, method=method)
    found = _fts5_ids(session, terms) if method == "fts5" else None
    if found is None and method == "fts5":
        method = "like"  # no index (the database was busy when it was first built): search without it
    if found is not None:
        item_ids, edition_ids = found
    elif method == "postgresql":
        item_ids = _postgresql_ids(session, Item, item_vector(Item.__table__), terms, is_published_item(), MAX_ITEMS)
        edition_ids = _postgresql_ids(
            session, Edition, edition_vector(Edition.__table__), terms, is_sent(), MAX_EDITIONS
        )
    else:
        item_ids = _like_ids(session, Item, _item_fields(), terms, is_published_item(), MAX_ITEMS)
        edition_ids = _like_ids(session, Edition, _edition_fields(), terms, is_sent(), MAX_EDITIONS)
    items = _load_in_order(session, Item, item_ids, is_published_item())
    editions = _load_in_order(session, Edition, edition_ids, is_sent())
    carriers = editions_carrying(session, [item.id for item in items])
    hits = [ItemHit(item=item, editions=carriers.get(item.id, [])) for item in items]
    return SearchResults(query=query, method=method, items=hits, editions=editions)


def _fts5_ids(session: Session, terms: list[str]) -> tuple[list[int], list[int]] | None:
    fts.refresh(session)
    try:
        return fts.match(session, terms, "item", MAX_ITEMS), fts.match(session, terms, "edition", MAX_EDITIONS)
    except OperationalError:
        session.rollback()
        return None


def _item_fields() -> list[ColumnElement[str]]:
    kind_words = case(KIND_WORDS, value=Item.kind, else_=Item.kind)
    return [Item.title, Item.summary, Item.organisation, Item.country, kind_words]


def _edition_fields() -> list[ColumnElement[str]]:
    type_words = case(EDITION_WORDS, value=Edition.type, else_=Edition.type)
    return [Edition.title, Edition.subject, Edition.preheader, Edition.intro, type_words]


def _postgresql_ids(
    session: Session, model: Model, vector: ColumnElement[object], terms: list[str], visible: Visible, limit: int
) -> list[int]:
    """The search's GIN index (migration 0013) serves the match: `vector` is the very expression it is built on."""
    query = to_tsquery(CONFIG, " & ".join(f"{term}:*" for term in terms))
    rank = func.ts_rank(vector, query)
    statement = (
        select(model.id).where(visible, vector.op("@@")(query)).order_by(rank.desc(), model.id.desc()).limit(limit)
    )
    return list(session.scalars(statement))


def _like_ids(
    session: Session, model: Model, fields: list[ColumnElement[str]], terms: list[str], visible: Visible, limit: int
) -> list[int]:
    every_term = and_(
        *(or_(*(func.lower(func.coalesce(column, "")).like(f"%{term}%") for column in fields)) for term in terms)
    )
    statement = select(model.id).where(visible, every_term).order_by(model.id.desc()).limit(limit)
    return list(session.scalars(statement))


def _load_in_order(session: Session, model: Model, ids: list[int], visible: Visible) -> list[Any]:
    """The rows for these ids, still visible to the public, in the ids' order (the ranking)."""
    if not ids:
        return []
    query = select(model).where(model.id.in_(ids), visible)
    if model is Edition:
        query = query.options(*without_documents())
    found = {row.id: row for row in session.scalars(query)}
    return [found[row_id] for row_id in ids if row_id in found]
