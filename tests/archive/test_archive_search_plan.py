"""The archive search is served by its index: the GIN indexes of migration 0013 on PostgreSQL, the FTS5
table on SQLite; and a page of results stays bounded however much matches and whatever the URL asks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, insert, select, text

from archive.search import MAX_ITEMS, search
from digest.models import Edition, EditionItem, Item
from digest.runtime import Runtime
from digest.web import create_app
from tests.archive.helpers import at, publish

MANY = 400  # published items, a few of them about hydrogen: enough rows for the planner to prefer an index


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with their parameters) sent to the database while the block runs."""
    sent: list[tuple[str, Any]] = []

    def record(_connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def publish_many(runtime: Runtime, count: int, hydrogen_every: int) -> None:
    """`count` more items carried by a sent edition; every `hydrogen_every`-th is about hydrogen."""
    slug = publish(runtime, [("Opening item", "news")], when=at(2026, 9, 3))
    with runtime.sessions() as session, session.begin():
        edition_id = session.scalar(select(Edition.id).where(Edition.slug == slug))
        rows = [
            {
                "kind": "news",
                "status": "published",
                "title": f"{'Hydrogen' if n % hydrogen_every == 0 else 'Textile'} cluster story {n}",
                "summary": f"<p>Story number {n} of the archive.</p>",
                "organisation": "Test Cluster",
                "country": "Belgium",
                "dedup_key": f"k{n}",
                "content_hash": f"h{n}",
            }
            for n in range(count)
        ]
        ids = session.scalars(insert(Item).returning(Item.id), rows).all()
        session.execute(
            insert(EditionItem),
            [{"edition_id": edition_id, "item_id": item_id, "section": "News", "position": n + 2}
             for n, item_id in enumerate(ids)],
        )  # fmt: skip
        if session.bind.dialect.name == "postgresql":
            session.execute(text("ANALYZE"))


def plans(runtime: Runtime, query: str, seqscan: bool = True) -> list[str]:
    """The database's plan of every statement the search runs (on PostgreSQL, `seqscan=False` asks the
    planner to show an index it can use even where reading a small table whole is cheaper)."""
    engine = runtime.engine
    with statements(engine) as sent, runtime.sessions() as session:
        search(session, query)
    sqlite = engine.dialect.name == "sqlite"
    found = []
    with engine.connect() as connection:
        if not seqscan:
            connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in sent:
            if statement.lstrip().upper().startswith("SELECT"):
                rows = connection.exec_driver_sql(
                    ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters
                )
                found.append("\n".join(" ".join(str(column) for column in row) for row in rows))
    return found


def test_the_search_query_uses_the_full_text_index(runtime: Runtime) -> None:
    publish_many(runtime, MANY, hydrogen_every=50)
    if runtime.engine.dialect.name == "postgresql":
        assert any("Bitmap Index Scan on ix_items_search" in plan for plan in plans(runtime, "hydrogen")), plans(
            runtime, "hydrogen"
        )
        # one sent edition: the planner reads that table whole unless asked to show it can use the index
        assert any("Bitmap Index Scan on ix_editions_search" in plan for plan in plans(runtime, "newsletter", False))
    else:
        found = plans(runtime, "hydrogen")
        assert any("SCAN archive_search VIRTUAL TABLE INDEX" in plan for plan in found), found


def test_a_page_of_results_is_bounded_whatever_matches_and_whatever_is_asked(runtime: Runtime) -> None:
    publish_many(runtime, MAX_ITEMS * 3, hydrogen_every=1)
    with runtime.sessions() as session:
        assert len(search(session, "hydrogen").items) == MAX_ITEMS
    client = create_app(runtime).test_client()
    page = client.get("/archive/search?q=hydrogen&page=10000&limit=1000000&per_page=1000000")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count("Hydrogen cluster story") == MAX_ITEMS
