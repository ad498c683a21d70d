"""Hand-made newsletters and the small arranging interface the editors' app calls, then the same
through the command line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from digest.audit import SYSTEM
from digest.config import load_config
from digest.editions.arrange import (
    add_items,
    layout,
    move_item,
    order_sections,
    remove_items,
    rename_section,
    set_texts,
)
from digest.editions.compose import compose
from digest.editions.core import EditionError, get_edition
from digest.editions.newsletter import create_newsletter
from digest.items.queue import QueueError
from digest.models import Edition
from digest.runtime import Runtime
from tests.cli import digest, digest_json
from tests.edition_helpers import DAY, MONDAY, item_at
from tests.factories import make_item

TZ = "Europe/Brussels"


def shape(edition: Edition) -> list[tuple[str, list[int]]]:
    return [(title, [entry.item_id for entry in entries]) for title, entries in layout(edition)]


def three_items(session: Session) -> tuple[int, int, int]:
    a = item_at(session, "Battery alliance grows", MONDAY - DAY)
    b = item_at(session, "Hydrogen valley call", MONDAY - DAY, kind="call", deadline=MONDAY + 40 * DAY)
    c = item_at(session, "Textile cluster award", MONDAY - DAY, kind="achievement")
    return a.id, b.id, c.id


def test_a_newsletter_with_chosen_items_in_chosen_sections(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        a, b, c = three_items(session)
        edition = create_newsletter(
            session,
            TZ,
            title="Autumn newsletter",
            sections=[("Spotlight", [c, a]), ("Funding", [b])],
            intro="Dear readers,\n\nThis autumn **three stories** stood out.",
            subject="Autumn at the platform",
            preheader="Batteries, hydrogen and textiles",
            now=MONDAY,
        )
        assert shape(edition) == [("Spotlight", [c, a]), ("Funding", [b])]
        assert (edition.type, edition.status, edition.title, edition.subject, edition.preheader) == (
            "newsletter",
            "draft",
            "Autumn newsletter",
            "Autumn at the platform",
            "Batteries, hydrogen and textiles",
        )
        assert edition.window_key is None
        rendered = compose(runtime.config, edition, MONDAY)
        assert "<strong>three stories</strong>" in rendered.html
        assert rendered.html.index("Textile cluster award") < rendered.html.index("Battery alliance grows")
        assert rendered.html.index(">Spotlight<") < rendered.html.index(">Funding<")
        assert "This autumn three stories stood out." in rendered.text


def test_reorder_move_add_remove_rename(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        a, b, c = three_items(session)
        d = item_at(session, "Another story", MONDAY - DAY).id
        edition = create_newsletter(session, TZ, sections=[("Stories", [a, c]), ("Funding", [b])], now=MONDAY)
        move_item(session, SYSTEM, edition.id, c, position=0)
        assert shape(edition) == [("Stories", [c, a]), ("Funding", [b])]
        move_item(session, SYSTEM, edition.id, a, position=5, section="Funding")  # past the end: last
        assert shape(edition) == [("Stories", [c]), ("Funding", [b, a])]
        add_items(session, SYSTEM, edition.id, [d], "Stories", position=0)
        assert shape(edition) == [("Stories", [d, c]), ("Funding", [b, a])]
        order_sections(session, SYSTEM, edition.id, ["Funding", "Stories"])
        assert shape(edition) == [("Funding", [b, a]), ("Stories", [d, c])]
        rename_section(session, SYSTEM, edition.id, "Stories", "More stories")
        remove_items(session, SYSTEM, edition.id, [b])
        assert shape(edition) == [("Funding", [a]), ("More stories", [d, c])]
        move_item(session, SYSTEM, edition.id, a, position=0, section="New section")  # the old section empties out
        assert shape(edition) == [("More stories", [d, c]), ("New section", [a])]
        assert [entry.position for entry in edition.entries] == [0, 1, 2]
    with runtime.sessions() as session:  # what was stored, read back
        assert shape(get_edition(session, edition.id)) == [("More stories", [d, c]), ("New section", [a])]


def test_arranging_refuses_what_cannot_be(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        a, b, _ = three_items(session)
        pending = make_item(session, "Not approved yet", status="pending").id
        edition = create_newsletter(session, TZ, sections=[("Stories", [a])], now=MONDAY)
        with pytest.raises(EditionError, match="pending"):
            add_items(session, SYSTEM, edition.id, [pending], "Stories")
        with pytest.raises(EditionError, match="already in edition"):
            add_items(session, SYSTEM, edition.id, [a], "Other")
        with pytest.raises(QueueError, match="no item with id 999"):
            add_items(session, SYSTEM, edition.id, [999], "Stories")
        with pytest.raises(EditionError, match="does not carry item"):
            move_item(session, SYSTEM, edition.id, b, position=0)
        with pytest.raises(EditionError, match="name every section"):
            order_sections(session, SYSTEM, edition.id, ["Stories", "Nope"])
        with pytest.raises(EditionError, match="needs a title"):
            add_items(session, SYSTEM, edition.id, [b], "   ")
        with pytest.raises(EditionError, match="subject cannot be empty"):
            set_texts(session, SYSTEM, edition.id, subject=" ")
        with pytest.raises(EditionError, match="at most 300"):
            set_texts(session, SYSTEM, edition.id, preheader="x" * 301)
        with pytest.raises(EditionError, match="already in edition"):
            create_newsletter(session, TZ, sections=[("One", [a]), ("Two", [a])], now=MONDAY)
        assert shape(edition) == [("Stories", [a])]


def test_an_empty_draft_can_be_filled_later(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        a, b, _ = three_items(session)
        edition = create_newsletter(session, TZ, sections=[], title="To be filled", now=MONDAY)
        assert edition.entries == [] and edition.preheader == ""
        add_items(session, SYSTEM, edition.id, [b, a], "Picks")
        set_texts(session, SYSTEM, edition.id, preheader="Two picks", intro="*Hello*")
        assert shape(edition) == [("Picks", [b, a])]
        assert (edition.preheader, edition.intro) == ("Two picks", "*Hello*")


def test_the_intro_is_markdown_without_raw_html(runtime: Runtime) -> None:
    intro = (
        "## A word from the editors\n\n"
        "Read [our report](/reports/2026) or write to [us](mailto:team@example.eu).\n\n"
        "<script>alert('x')</script> <img src=x onerror=alert(1)> [bad](javascript:alert(1))\n\n"
        "- one\n- two\n"
    )
    with runtime.sessions() as session, session.begin():
        a, _, _ = three_items(session)
        edition = create_newsletter(session, TZ, sections=[("Stories", [a])], intro=intro, now=MONDAY)
        rendered = compose(runtime.config, edition, MONDAY)
    html = rendered.html
    assert "<script" not in html and "<img src=x" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in html  # typed markup shows as text
    assert 'href="http://digest.test/reports/2026"' in html  # relative links made absolute
    assert 'href="mailto:team@example.eu"' in html
    assert "<strong>A word from the editors</strong>" in html
    assert re.search(r"<li\b[^>]*>one</li>", html)
    text = " ".join(rendered.text.split())  # the text part is wrapped at 72 columns
    assert "Read our report (http://digest.test/reports/2026) or write to us (team@example.eu)." in text
    assert "- one - two" in text


def test_cli_newsletter_with_sections_and_an_intro(write_config: Callable[..., Path], tmp_path: Path) -> None:
    config = write_config()
    digest("init", config=config)
    runtime = Runtime(load_config(config, environ={}))
    with runtime.sessions() as session, session.begin():
        a, b, c = three_items(session)
    runtime.close()
    intro = tmp_path / "intro.md"
    intro.write_text("Hello **everyone**.\n", encoding="utf-8")
    made = digest_json(
        "edition", "create", "--type", "newsletter", "--title", "December newsletter",
        "--section", f"Spotlight={c},{a}", "--section", f"Funding={b}",
        "--intro-file", str(intro), "--preheader", "Three stories", config=config,
    )  # fmt: skip
    assert made["type"] == "newsletter" and made["items"] == [c, a, b]
    assert made["sections"] == [{"title": "Spotlight", "items": [c, a]}, {"title": "Funding", "items": [b]}]
    assert (made["intro"], made["preheader"], made["warnings"]) == ("Hello **everyone**.", "Three stories", [])
    by_kind = digest_json("edition", "create", "--type", "newsletter", "--items", f"{c},{b},{a}", config=config)
    assert [s["title"] for s in by_kind["sections"]] == ["News", "Open calls", "Cluster achievements"]
    out = tmp_path / "preview.html"
    digest("edition", "preview", str(made["id"]), "--out", str(out), config=config)
    assert "Hello <strong>everyone</strong>." in out.read_text(encoding="utf-8")
    wrong = digest(
        "edition", "create", "--type", "newsletter", "--section", "no equals sign", config=config, check=False
    )
    assert wrong.returncode == 2 and "TITLE=IDS" in wrong.stderr
    mixed = digest("edition", "create", "--type", "digest", "--items", "1", config=config, check=False)
    assert mixed.returncode == 2 and "for newsletters" in mixed.stderr
