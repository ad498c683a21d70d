"""The SQLite FTS5 index of the archive search: published items and sent editions, as plain text.

The index is built lazily and refreshed when what it covers changed (a signature of the published
items and sent editions is kept beside it). It is not part of the Alembic schema on purpose: the
first migration is regenerated from the models, and a virtual table there would show up as a
difference between the models and the database.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive.published import PUBLISHED_ITEM_STATUSES, is_published_item, is_sent, without_documents
from digest.models import Edition, Item
from digest.rendering.text import html_to_text
from digest.search_document import EDITION_WORDS, KIND_WORDS

TABLE = "archive_search"
STATE_TABLE = "archive_search_state"
# bm25 weights, one per column: doc, ref (not searched), title, summary, organisation, country, kind
_WEIGHTS = "0, 0, 10.0, 2.0, 5.0, 5.0, 3.0"


def available(session: Session) -> bool:
    return (
        session.bind is not None
        and session.bind.dialect.name == "sqlite"
        and bool(session.scalar(text("SELECT sqlite_compileoption_used('ENABLE_FTS5')")))
    )


def refresh(session: Session) -> bool:
    """Create the index if needed and rebuild it if its content changed; commits. True if rebuilt.

    When another request holds the write lock, the search goes on with the index as it is."""
    try:
        _create(session)
        signature = _signature(session)
        stored = session.scalar(text(f"SELECT value FROM {STATE_TABLE} WHERE name = 'signature'"))
        if stored == signature:
            session.commit()
            return False
        _rebuild(session)
        session.execute(text(f"DELETE FROM {STATE_TABLE} WHERE name = 'signature'"))
        session.execute(text(f"INSERT INTO {STATE_TABLE} (name, value) VALUES ('signature', :v)"), {"v": signature})
        session.commit()
        return True
    except OperationalError:
        session.rollback()
        return False


def match(session: Session, terms: list[str], doc: str, limit: int) -> list[int]:
    """Ids of the items (doc="item") or editions (doc="edition") matching every term, best first."""
    expression = " ".join(f'"{term}"*' for term in terms)  # each term is letters/digits only
    rows = session.execute(
        text(
            f"SELECT ref FROM {TABLE} WHERE {TABLE} MATCH :expression AND doc = :doc "
            f"ORDER BY bm25({TABLE}, {_WEIGHTS}) LIMIT :limit"
        ),
        {"expression": expression, "doc": doc, "limit": limit},
    )
    return [int(ref) for (ref,) in rows]


def _create(session: Session) -> None:
    session.execute(
        text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
            "doc UNINDEXED, ref UNINDEXED, title, summary, organisation, country, kind, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
    )
    session.execute(text(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (name TEXT PRIMARY KEY, value TEXT NOT NULL)"))


def _signature(session: Session) -> str:
    items = session.execute(
        select(func.count(), func.max(Item.updated_at), func.max(Item.id)).where(
            Item.status.in_(PUBLISHED_ITEM_STATUSES)
        )
    ).one()
    editions = session.execute(
        select(func.count(), func.max(Edition.sent_at), func.max(Edition.id)).where(is_sent())
    ).one()
    return repr((tuple(items), tuple(editions)))


def _rebuild(session: Session) -> None:
    session.execute(text(f"DELETE FROM {TABLE}"))
    rows = [
        {
            "doc": "item",
            "ref": item.id,
            "title": item.title,
            "summary": html_to_text(item.summary),
            "organisation": item.organisation or "",
            "country": item.country or "",
            "kind": KIND_WORDS.get(item.kind, item.kind),
        }
        for item in session.scalars(select(Item).where(is_published_item()))
    ]
    rows += [
        {
            "doc": "edition",
            "ref": edition.id,
            "title": edition.title,
            "summary": " ".join(
                part for part in (edition.subject, edition.preheader, html_to_text(edition.intro)) if part
            ),
            "organisation": "",
            "country": "",
            "kind": EDITION_WORDS.get(edition.type, edition.type),
        }
        for edition in session.scalars(select(Edition).options(*without_documents()).where(is_sent()))
    ]
    if rows:
        session.execute(
            text(
                f"INSERT INTO {TABLE} (doc, ref, title, summary, organisation, country, kind) "
                "VALUES (:doc, :ref, :title, :summary, :organisation, :country, :kind)"
            ),
            rows,
        )
