"""Search across published items and editions: each field finds, on every method the backend offers
(SQLite FTS5 or PostgreSQL full text, and the LIKE fallback everywhere); nothing unpublished does."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from archive.search import best_method, search
from digest.runtime import Runtime
from digest.web import create_app
from tests.archive.helpers import at, publish
from tests.conftest import POSTGRES_URL
from tests.factories import make_item

METHODS = ["postgresql", "like"] if POSTGRES_URL else ["fts5", "like"]

HYDROGEN = "Hydrogen valleys network grows"
MATCHMAKING = "Matchmaking days for logistics"
CALL = "Open call for textile SMEs"
BATTERY = "Battery alliance reaches 100 members"


@pytest.fixture
def published(runtime: Runtime) -> str:
    slug = publish(
        runtime,
        [
            (HYDROGEN, "news", {"summary": "<p>Twelve regions pool <b>electrolyser</b> capacity.</p>",
                                "organisation": "H2 Valley Cluster", "country": "Spain"}),
            (MATCHMAKING, "event", {"organisation": "Lyon Urban Truck", "country": "France"}),
            (CALL, "call", {"organisation": "Euratex", "country": "Portugal"}),
            (BATTERY, "achievement", {"organisation": "Nordic Battery Cluster", "country": "Sweden"}),
        ],
        when=at(2026, 9, 3),
        title="September newsletter",
    )  # fmt: skip
    with runtime.sessions() as session, session.begin():
        make_item(session, "Hydrogen storage pilot still waiting", status="approved", country="Spain")
        make_item(session, "Hydrogen submission nobody vetted", status="pending", country="Spain")
        make_item(session, "Hydrogen item an editor rejected", status="rejected", country="Spain")
    return slug


def titles(runtime: Runtime, query: str, method: str) -> list[str]:
    with runtime.sessions() as session:
        return [hit.item.title for hit in search(session, query, method).items]


def test_the_backend_offers_its_full_text_search(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        assert best_method(session) == METHODS[0]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("field", "query", "expected"),
    [
        ("title", "battery alliance", [BATTERY]),
        ("summary", "electrolyser", [HYDROGEN]),
        ("organisation", "euratex", [CALL]),
        ("organisation", "urban truck", [MATCHMAKING]),
        ("country", "sweden", [BATTERY]),
        ("country", "Portugal", [CALL]),
        ("kind", "events", [MATCHMAKING]),
        ("kind", "calls", [CALL]),
        ("kind", "achievements", [BATTERY]),
        ("start of a word", "hydro", [HYDROGEN]),
        ("every word", "hydrogen spain", [HYDROGEN]),
        ("every word", "hydrogen sweden", []),
    ],
)
def test_each_field_finds_published_items_only(
    runtime: Runtime, published: str, method: str, field: str, query: str, expected: list[str]
) -> None:
    assert titles(runtime, query, method) == expected, field


@pytest.mark.parametrize("method", METHODS)
def test_results_link_to_the_editions_that_carried_them_and_editions_are_found(
    runtime: Runtime, published: str, method: str
) -> None:
    with runtime.sessions() as session:
        results = search(session, "hydrogen", method)
        assert [edition.slug for hit in results.items for edition in hit.editions] == [published]
        assert [edition.slug for edition in search(session, "september newsletter", method).editions] == [published]
        assert search(session, "", method).empty and search(session, "%_*\"'", method).empty


@pytest.mark.parametrize("method", METHODS)
def test_a_newly_sent_edition_is_found_at_once(runtime: Runtime, published: str, method: str) -> None:
    assert titles(runtime, "quantum", method) == []
    publish(runtime, [("Quantum cluster opens its lab", "news")], when=at(2026, 10, 1))
    assert titles(runtime, "quantum", method) == ["Quantum cluster opens its lab"]


def test_the_search_page_shows_items_with_their_editions(runtime: Runtime, published: str) -> None:
    client: FlaskClient = create_app(runtime).test_client()
    page = client.get("/archive/search?q=electrolyser").get_data(as_text=True)
    assert HYDROGEN in page and "H2 Valley Cluster · Spain" in page
    assert f'<a href="/archive/{published}">September newsletter</a>' in page
    odd = client.get("/archive/search?q=%22hydrogen%22+OR+(NEAR")
    assert odd.status_code == 200
    assert "Nothing published matches" in client.get("/archive/search?q=rejected").get_data(as_text=True)
