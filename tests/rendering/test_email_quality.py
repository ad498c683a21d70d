"""The email-quality bars of a digest assembled from the database, checked on what subscribers get:
the frozen edition, the messages in the outbox, and `digest edition preview`."""

from __future__ import annotations

import html as html_lib
import re
import socket
from collections.abc import Callable, Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digest.audit import SYSTEM
from digest.config import Config, load_config
from digest.db import upgrade
from digest.delivery.ledger import start_sending
from digest.delivery.worker import Worker
from digest.editions.arrange import sections_of, set_section_layout
from digest.editions.assembly import assemble_digest
from digest.editions.compose import SIZE_LIMIT, compose, email_size, freeze
from digest.editions.newsletter import create_newsletter
from digest.models import Delivery, Edition, Item, utcnow
from digest.rendering.render import PLACEHOLDERS, personalise
from digest.runtime import Runtime
from scheduler.runner import Runner
from tests.cli import digest, digest_json
from tests.edition_helpers import DAY, MONDAY, forty_item_week, item_at, long_summary
from tests.factories import make_subscribers, store_unknown_kind

TZ = "Europe/Brussels"
MARKERS = set(PLACEHOLDERS.values())


@pytest.fixture
def config(write_config: Callable[..., Path]) -> Config:
    """Links as the templates write them: here the email is checked, not the click tracking that would put
    them behind /l/<token> (tests/analytics checks that, and the size of a tracked 40-item digest)."""
    return load_config(write_config(analytics={"clicks": False}), environ={})


@pytest.fixture
def forty(runtime: Runtime) -> Iterator[tuple[Edition, list[Item]]]:
    """The 40-item week, assembled on Monday and frozen as sending does, every section in cards (the
    form that shows each kind in full; the compact lists are tests/rendering/test_compact_digest.py's)."""
    with runtime.sessions() as session:
        items = forty_item_week(session)
        edition = assemble_digest(session, TZ, now=MONDAY).require()
        for section in sections_of(edition):
            set_section_layout(session, SYSTEM, edition.id, section.title, "cards")
        freeze(runtime.config, edition, MONDAY)
        yield edition, items


def tags(html: str, name: str) -> list[str]:
    return re.findall(rf"<{name}\b[^>]*>", html, re.I)


def test_the_html_document(forty) -> None:
    edition, _ = forty
    page = edition.html
    assert page.startswith("<!doctype html>")
    assert re.match(r'<!doctype html>\s*<html lang="en"', page)
    assert f"<title>{html_lib.escape(edition.subject, quote=False)}</title>" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert page.count('<meta name="color-scheme" content="light dark">') == 1
    assert '<meta name="supported-color-schemes" content="light dark">' in page


def test_layout_tables_are_presentational(forty) -> None:
    tables = tags(forty[0].html, "table")
    assert len(tables) > 40
    assert [tag for tag in tables if 'role="presentation"' not in tag] == []


def test_every_image_is_decorative_with_an_absolute_source(forty) -> None:
    edition, items = forty
    images = tags(edition.html, "img")
    assert len(images) == sum(1 for item in items if item.image_url)
    for tag in images:
        assert re.search(r'\balt=""', tag), tag  # the item's title beside it says what it is
        assert re.search(r'\bsrc="https://', tag), tag


# "&#847;&zwnj;&nbsp;" as characters: invisible, and an inbox's preview line stops at them
FILLER = "\u034f\u200c\u00a0"


def test_the_preheader_is_the_hidden_first_text_then_filler(forty) -> None:
    edition, _ = forty
    body = edition.html[edition.html.index("<body") :]
    hidden = re.search(r'<div class="dg-pre" style="([^"]*)">([^<]*)</div>', body)
    assert hidden, body[:2000]
    style, text = hidden.groups()
    assert "display:none" in style and "mso-hide:all" in style
    assert "color" not in style and "font-size" not in style  # nothing SpamAssassin reads as low contrast
    assert edition.preheader == "This week: 12 news items, 10 events, 10 open calls, 8 achievements"
    assert text.startswith(edition.preheader) and text[len(edition.preheader) :] == FILLER * 100
    assert body.index(edition.preheader) < body.index("View in browser") < body.index("Dear ")


def test_dark_mode_styles_survive_premailer(forty) -> None:
    page = forty[0].html
    styles = "".join(re.findall(r"<style\b[^>]*>(.*?)</style>", page, re.S))
    assert "color-scheme: light dark" in styles
    dark = styles[styles.index("@media (prefers-color-scheme: dark)") :]
    assert ".dg-card" in dark and "!important" in dark
    assert "@media only screen and (max-width: 479px)" in styles  # the phone rules too
    assert 'class="dg-card' in page  # the classes the rules select are kept


def test_nothing_external_is_referenced_or_fetched(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendering tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with runtime.sessions() as session:
        forty_item_week(session)
        edition = assemble_digest(session, TZ, now=MONDAY).require()
        page = compose(runtime.config, edition, MONDAY).html
        session.rollback()
    assert tags(page, "link") == [] and tags(page, "script") == []
    assert "@import" not in page and "@font-face" not in page and "googleapis" not in page
    assert not re.search(r"url\(", page)


def inline_style_bytes(page: str) -> int:
    return sum(len(attribute.encode()) for attribute in re.findall(r'\sstyle="[^"]*"', page))


def test_a_forty_item_digest_fits_whole_with_little_inline_css(forty) -> None:
    edition, _ = forty
    size = email_size(edition.html)
    inline = inline_style_bytes(edition.html)
    print(f"\n40-item digest: HTML {size:,} bytes personalised ({inline / size:.0%} inline style), text "
          f"{len(edition.text.encode()):,} bytes")  # fmt: skip
    assert len(edition.entries) == 40 and size <= 90_000
    assert not [w for w in edition.warnings if "Trimmed" in w]
    assert edition.archive_html and "Dear reader," in edition.archive_html  # the public copy, always stored
    # The look is written once, by class, in <head>; elements carry only what must survive without it.
    assert inline < 0.3 * size  # it was 51 %
    assert "margin:" not in " ".join(re.findall(r'<p class="dg-[^"]*" style="[^"]*"', edition.html))


def news_items(session, count: int) -> list[Item]:
    return [
        item_at(
            session,
            f"Extra news {n}: regional clusters report on the year of cooperation across borders",
            MONDAY - DAY,
            summary=long_summary(f"extra {n}"),
            url=f"https://clusters.example.eu/extra/{n}",
        )
        for n in range(count)
    ]


def test_an_eighty_item_newsletter_stays_under_90000_bytes_and_the_archive_keeps_it_whole(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        items = forty_item_week(session) + news_items(session, 40)
        edition = create_newsletter(session, TZ, title="The year in clusters", now=MONDAY)
        freeze(runtime.config, edition, MONDAY)
        size = email_size(edition.html)
        kept = int(re.search(r"top (\d+) of 80", " ".join(edition.warnings)).group(1))  # type: ignore[union-attr]
        print(f"\n80-item newsletter: {kept} items in {size:,} bytes of HTML")
        assert size <= 90_000 and kept >= 40
        archive = html_lib.unescape(edition.archive_html or "")
        assert all(item.title in archive for item in items)


def test_all_links_are_absolute_and_all_are_in_the_text_part(forty) -> None:
    edition, _ = forty
    hrefs = re.findall(r'\bhref="([^"]*)"', edition.html)
    assert len(hrefs) > 80
    anchors = {href for href in hrefs if href.startswith("#")}  # "In this issue", to the headings
    assert all(f'id="{anchor[1:]}"' in edition.html for anchor in anchors)
    for href in set(hrefs) - anchors:
        assert href in MARKERS or re.match(r"https?://", href), href
    text = edition.text
    for href in set(hrefs) - MARKERS - anchors:
        assert html_lib.unescape(href) in text, href
    for marker in MARKERS:
        assert marker in edition.html and marker in text


def test_each_kind_shows_what_readers_need(forty) -> None:
    edition, items = forty
    page, text = edition.html, edition.text
    event = next(item for item in items if item.kind == "event" and item.featured)
    assert f'href="http://digest.test/events/{event.id}.ics"' in page
    assert f"Add to calendar: http://digest.test/events/{event.id}.ics" in text
    assert "10–11 Dec 2026, from 08:00 Lisbon time (09:00 CET)" in page  # Lisbon: its own zone, then the site's
    assert "Deadline: 11 Dec 2026, 17:00 CET" in page and "4 days left" in page
    assert 'class="dg-left dg-urgent"' in page
    assert "Circular Plastics Cluster 3 · Poland" in page  # an achievement: organisation and country
    assert "European Cluster Organisation for Advanced Manufacturing 4 · Spain · 2 Dec 2026" in page


def test_subscriber_parts_are_placeholders_filled_per_recipient(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    runtime = Runtime(load_config(write_config(), environ={}))
    upgrade(runtime.engine)
    try:
        with runtime.sessions() as session, session.begin():
            forty_item_week(session)
            readers = make_subscribers(session, 3)
            edition = assemble_digest(session, TZ, now=MONDAY).require()
            start_sending(session, runtime.config, edition.id, MONDAY)
            frozen_html, frozen_text = edition.html, edition.text
            assert not [reader.email for reader in readers if reader.email in frozen_html + frozen_text]
        Worker(runtime).drain()
    finally:
        runtime.close()
    messages = [
        BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in (tmp_path / "var/outbox").glob("*.eml")
    ]
    assert len(messages) == 3
    for message in messages:
        rich = message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")
        plain = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        name = message["To"].addresses[0].display_name
        preferences = re.search(r'href="([^"]*/preferences/[^"]*)"', rich)
        assert preferences is not None
        values = {
            "name": name,
            "unsubscribe_url": message["List-Unsubscribe"].strip("<>"),
            "preferences_url": html_lib.unescape(preferences.group(1)),
        }
        escaped = {key: html_lib.escape(value, quote=True) for key, value in values.items()}
        # Everything but the three personal parts is the frozen edition, byte for byte: MJML ran once.
        assert rich.strip() == personalise(frozen_html, escaped).strip()
        assert plain.strip() == personalise(frozen_text, values).strip()
        assert f"Dear {name}," in plain


def test_an_edition_too_big_for_gmail_is_trimmed_and_the_editor_warned(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        items = forty_item_week(session) + news_items(session, 60)
        edition = assemble_digest(session, TZ, now=MONDAY).require()
        freeze(runtime.config, edition, MONDAY)
        size = email_size(edition.html)
        print(f"\n100-item digest trimmed to {size:,} bytes")
        assert size <= SIZE_LIMIT <= 90_000
        [warning] = [w for w in edition.warnings if w.startswith("Trimmed to its top ")]
        kept = int(re.search(r"top (\d+) of 100", warning).group(1))  # type: ignore[union-attr]
        assert 40 < kept < 100
        assert f"{100 - kept} more items are in this edition than fit in an email." in edition.html
        assert (
            'href="http://digest.test/archive/' in edition.html
            and "See the full edition in the archive" in edition.html
        )
        assert f"See the full edition in the archive: http://digest.test/archive/{edition.slug}" in edition.text
        shown = [item for item in items if html_lib.escape(item.title, quote=False) in edition.html]
        assert len(shown) == kept
        assert all(item.title in html_lib.unescape(edition.archive_html or "") for item in items)  # the archive has all
        first_of_each_section = {entry.section: entry.item for entry in reversed(edition.entries)}
        assert len(first_of_each_section) == 5 and all(item in shown for item in first_of_each_section.values())
        assert all(item in shown for item in items if item.featured)


def test_a_rendering_error_stops_the_send_with_a_clear_message(write_config: Callable[..., Path]) -> None:
    config = write_config()
    digest("init", config=config)
    runtime = Runtime(load_config(config, environ={}))
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 2)
        item_at(session, "A fine news item", MONDAY - DAY)
        broken = item_at(session, "An item of a kind no template knows", MONDAY - DAY)
        edition = assemble_digest(session, TZ, now=MONDAY).require()
        store_unknown_kind(session, broken)  # after assembly: there is no templates/email/items/podcast.mjml.j2
        edition_id = edition.id
    result = digest("edition", "send", str(edition_id), config=config, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"digest: error: edition {edition_id} was not sent: ")
    assert "unknown kind 'podcast'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    with runtime.sessions() as session:
        stored = session.get(Edition, edition_id)
        assert stored.status == "draft" and stored.html is None
        assert stored.last_error and "unknown kind 'podcast'" in stored.last_error
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert {item.status for item in session.scalars(select(Item))} == {"approved"}
    runtime.close()


def test_preview_writes_what_a_subscriber_gets(write_config: Callable[..., Path], tmp_path: Path) -> None:
    config = write_config()
    digest("init", config=config)
    runtime = Runtime(load_config(config, environ={}))
    with runtime.sessions() as session, session.begin():
        forty_item_week(session)
        edition = assemble_digest(session, TZ, now=MONDAY).require()
        edition_id = edition.id
    runtime.close()
    out, text = tmp_path / "preview.html", tmp_path / "preview.txt"
    result = digest("edition", "preview", str(edition_id), "--out", str(out), "--text", str(text), config=config)
    assert f"wrote {out}" in result.stdout
    page, plain = out.read_text(encoding="utf-8"), text.read_text(encoding="utf-8")
    assert "XDIGESTX" not in page and "XDIGESTX" not in plain
    assert "Dear reader," in page and "Dear reader," in plain
    assert re.search(r'href="http://digest\.test/unsubscribe/[^"]+"', page)
    assert re.search(r"Unsubscribe: http://digest\.test/unsubscribe/\S+", plain)
    for href in re.findall(r'\bhref="([^"]*)"', page):
        assert re.match(r"https?://", href) or f'id="{href[1:]}"' in page, href
    assert len(page.encode()) < 100 * 1024
    shown = digest_json("edition", "show", str(edition_id), config=config)
    assert shown["status"] == "draft" and shown["last_error"] is None  # a preview changes nothing


def test_cli_digest_create_is_idempotent_and_an_empty_window_exits_1(write_config: Callable[..., Path]) -> None:
    config = write_config()
    digest("init", config=config)
    empty = digest("edition", "create", "--type", "digest", config=config, check=False)
    assert empty.returncode == 1 and "window is empty" in empty.stderr and empty.stdout == ""
    runtime = Runtime(load_config(config, environ={}))
    with runtime.sessions() as session, session.begin():
        item_at(session, "This week's news", utcnow() - DAY)  # the command assembles at the real time
    runtime.close()
    first = digest_json("edition", "create", "--type", "digest", config=config)
    second = digest("edition", "create", "--type", "digest", config=config)
    assert f"digest {first['id']} already covers this window" in second.stdout
    assert [e["id"] for e in digest_json("edition", "list", config=config)] == [first["id"]]
    assert first["window_start"] is None and first["window_end"]


def test_a_scheduled_edition_that_does_not_render_goes_back_to_the_editors(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 2)
        broken = item_at(session, "An item of a kind no template knows", MONDAY - DAY)
        edition = assemble_digest(session, TZ, now=MONDAY).require()
        store_unknown_kind(session, broken)
        edition.status, edition.scheduled_at = "scheduled", MONDAY + DAY
        edition_id = edition.id
    [run] = Runner(runtime).run_due(MONDAY + DAY + DAY / 24, only=["send_scheduled"])  # the scheduler, on time
    assert run.outcome == "error" and "unknown kind 'podcast'" in run.detail
    with runtime.sessions() as session:
        edition = session.get(Edition, edition_id)
        assert (edition.status, edition.html) == ("draft", None)
        assert edition.last_error and "unknown kind 'podcast'" in edition.last_error
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
