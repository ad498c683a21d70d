"""The text the archive search reads of a published item and of a sent edition, as SQL.

On PostgreSQL the search matches `item_vector(items)` / `edition_vector(editions)`, and a GIN index is
built on exactly these expressions (digest.models), so the query and the index cannot drift apart.
PostgreSQL uses an expression index only for a query that spells the same expression, constants
included: they are rendered into the SQL, never sent as parameters. And the expression must be
immutable: `concat_ws` is only stable, hence `||` over `coalesce`d columns.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, Table, case, func, literal, text
from sqlalchemy.dialects.postgresql import to_tsvector

# Searching "events" or "open calls" finds items of that kind, not only the literal kind name.
KIND_WORDS = {
    "news": "news",
    "event": "event events",
    "call": "call calls open funding",
    "achievement": "achievement achievements",
}
EDITION_WORDS = {
    "digest": "edition editions weekly digest",
    "newsletter": "edition editions newsletter",
}
CONFIG = text("'simple'::regconfig")  # no stemming: names, and texts in many languages


def item_vector(items: Table) -> ColumnElement[object]:
    c = items.c
    return _vector([c.title, c.summary, c.organisation, c.country, _words(c.kind, KIND_WORDS)])


def edition_vector(editions: Table) -> ColumnElement[object]:
    c = editions.c
    return _vector([c.title, c.subject, c.preheader, c.intro, _words(c.type, EDITION_WORDS)])


def _const(value: str) -> ColumnElement[str]:
    return literal(value, String, literal_execute=True)


def _words(column: ColumnElement[str], words: dict[str, str]) -> ColumnElement[str]:
    return case(*((column == _const(name), _const(said)) for name, said in words.items()), else_=column)


def _vector(fields: list[ColumnElement[str]]) -> ColumnElement[object]:
    document = func.coalesce(fields[0], _const(""))
    for field in fields[1:]:
        document = document + _const(" ") + func.coalesce(field, _const(""))
    return to_tsvector(CONFIG, document)
