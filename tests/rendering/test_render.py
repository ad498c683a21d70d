"""The email rendering stage: Jinja2 → MJML → mjml-python → premailer, plus the text part."""

from __future__ import annotations

import html as html_lib
import re
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.rendering.dates import event_when
from digest.rendering.render import (
    DEFAULT_TEMPLATES_DIR,
    PLACEHOLDERS,
    EditionView,
    ItemView,
    RenderedEdition,
    RenderError,
    SectionView,
    SiteView,
    personalise,
    render_edition,
)

TODAY = date(2026, 12, 3)
SITE = SiteView(
    name="European Cluster Collaboration Platform",
    base_url="http://127.0.0.1:8000",
    timezone="Europe/Brussels",
    language="en",
    contact_address="ECCP, Avenue des Arts 1, 1000 Brussels, Belgium · contact@clustercollaboration.test",
)
COUNTRIES = ("Belgium", "Portugal", "Germany", "Poland", "Spain", "Italy", "Sweden", "Greece")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def item(kind: str, title: str, **fields: object) -> ItemView:
    values: dict[str, object] = {
        "kind": kind,
        "title": title,
        "summary_html": f"<p>{html_lib.escape(title)}: what it is about, for whom, and why it matters.</p>",
        "url": None,
        "image_url": None,
        "organisation": None,
        "country": None,
        "published_at": None,
        "starts_at": None,
        "ends_at": None,
        "location": None,
        "timezone": None,
        "deadline": None,
    }
    values.update(fields)
    return ItemView(**values)  # type: ignore[arg-type]


def build_sections() -> tuple[SectionView, ...]:
    """40 varied items across the four kinds."""
    news = [
        item(
            "news",
            f"Cluster news {n}: {'Déjà vu & “quotes”' if n == 3 else 'partnerships grow'}",
            url=f"https://news.example.org/articles/{n}?ref=digest&lang=en",
            image_url=f"https://news.example.org/img/{n}.jpg" if n % 3 == 0 else None,
            organisation=f"Cluster Organisation {n}",
            country=COUNTRIES[n % len(COUNTRIES)],
            published_at=utc(2026, 12, 1, 9 + n % 8),
            featured=n == 0,
            summary_html=(
                f"<p>The <strong>cluster partnership {n}</strong> brought together SMEs from "
                f"{COUNTRIES[n % len(COUNTRIES)]} and beyond &amp; agreed a joint action plan for "
                "internationalisation, skills and the green transition.</p>"
                "<p>More than 40 organisations took part in the matchmaking sessions.</p>"
            ),
        )
        for n in range(12)
    ]
    events = [
        item(
            "event",
            "Matchmaking in Lisbon",
            url="https://events.example.org/lisbon",
            starts_at=utc(2026, 12, 8, 8, 0),
            ends_at=utc(2026, 12, 8, 17, 0),
            timezone="Europe/Lisbon",
            location="Lisbon, Portugal",
            organisation="Lisbon Tech Cluster",
            calendar_url="http://127.0.0.1:8000/events/1.ics",
            featured=True,
            image_url="https://events.example.org/lisbon.jpg",
        ),
        item(
            "event",
            "Cluster policy day in Brussels",
            url="https://events.example.org/brussels",
            starts_at=utc(2026, 12, 8, 8, 0),
            ends_at=utc(2026, 12, 8, 16, 0),
            timezone="Europe/Brussels",
            location="Brussels, Belgium",
            calendar_url="http://127.0.0.1:8000/events/2.ics",
        ),
        item(
            "event",
            "European Cluster Conference",
            url="https://events.example.org/conference",
            starts_at=utc(2026, 12, 8, 8, 0),
            ends_at=utc(2026, 12, 10, 16, 0),
            location="Vienna, Austria",
            timezone="Europe/Vienna",
        ),
    ] + [
        item(
            "event",
            f"Webinar {n}: going international",
            url=f"https://events.example.org/webinar-{n}",
            starts_at=utc(2027, 1, 10 + n, 13, 30),
            ends_at=utc(2027, 1, 10 + n, 15, 0),
            location="Online",
            calendar_url=f"http://127.0.0.1:8000/events/{10 + n}.ics",
            organisation="ECCP",
        )
        for n in range(7)
    ]
    calls = [
        item(
            "call",
            "ESCP-S3 call for proposals",
            url="https://calls.example.org/escp-s3",
            deadline=utc(2026, 12, 15, 16, 0),
            organisation="EISMEA",
            country="Belgium",
            featured=True,
        ),
        item("call", "Call closing today", url="https://calls.example.org/today", deadline=utc(2026, 12, 3, 22, 59)),
        item("call", "Call closing tomorrow", url="https://calls.example.org/tomorrow", deadline=utc(2026, 12, 4, 12)),
        item("call", "Call already closed", url="https://calls.example.org/closed", deadline=utc(2026, 11, 30, 12)),
    ] + [
        item(
            "call",
            f"Interreg call {n} for cooperation ideas",
            url=f"https://calls.example.org/interreg-{n}",
            deadline=utc(2027, 1, 10 + n, 22, 59),
            organisation="Interreg",
        )
        for n in range(6)
    ]
    achievements = [
        item(
            "achievement",
            f"Achievement {n}: new value chain in {COUNTRIES[n]}",
            url=f"https://achievements.example.org/{n}",
            organisation=f"Cluster {n}",
            country=COUNTRIES[n],
            image_url=f"https://achievements.example.org/{n}.png" if n % 2 == 0 else None,
            featured=n == 1,
        )
        for n in range(7)
    ] + [item("achievement", "A <script>alert('x')</script> title", url="https://achievements.example.org/x")]
    return (
        SectionView("Latest news", tuple(news)),
        SectionView("Upcoming events", tuple(events)),
        SectionView("Open calls", tuple(calls)),
        SectionView("Cluster achievements", tuple(achievements)),
    )


def build_edition(**changes: object) -> EditionView:
    edition = EditionView(
        title="Weekly digest",
        subject="ECCP weekly digest — 3 December 2026",
        preheader="New calls for cluster partnerships, matchmaking in Lisbon and more",
        sections=build_sections(),
        archive_url="http://127.0.0.1:8000/archive/2026-12-03-weekly-digest",
        intro_html="<p>Welcome to this week's digest.</p><p>Two calls close soon: see below.</p>",
        sent_on=date(2026, 12, 3),
    )
    return replace(edition, **changes)  # type: ignore[arg-type]


def all_items(edition: EditionView) -> list[ItemView]:
    return [it for section in edition.sections for it in section.items]


@pytest.fixture(scope="module")
def edition() -> EditionView:
    return build_edition()


@pytest.fixture(scope="module")
def rendered(edition: EditionView) -> RenderedEdition:
    return render_edition(edition, SITE, TODAY)


def test_the_fixture_is_forty_items_in_four_kinds(edition: EditionView) -> None:
    items = all_items(edition)
    assert len(items) == 40
    assert {it.kind for it in items} == {"news", "event", "call", "achievement"}


def test_html_document_basics(rendered: RenderedEdition) -> None:
    page = rendered.html
    assert page.lower().startswith("<!doctype html>")
    assert '<html lang="en"' in page
    assert "<title>ECCP weekly digest — 3 December 2026</title>" in page
    assert "New calls for cluster partnerships, matchmaking in Lisbon and more" in page  # preheader
    assert '<meta name="color-scheme" content="light dark">' in page
    assert '<meta name="supported-color-schemes" content="light dark">' in page
    styles = re.findall(r"<style\b[^>]*>(.*?)</style>", page, re.S)
    assert any("@media (prefers-color-scheme: dark)" in css for css in styles)
    assert "European Cluster Collaboration Platform" in page
    assert "Thursday 3 December 2026" in page  # the edition's date in the header


def test_the_look_is_in_head_and_only_what_must_survive_is_inlined(rendered: RenderedEdition) -> None:
    head = "".join(re.findall(r"<style\b[^>]*>(.*?)</style>", rendered.html, re.S))
    assert re.search(r"\.dg-title \{[^}]*font-size: 17px", head)  # sizes, margins, spacing: once, by class
    assert '<h3 class="dg-title">' in rendered.html and '<p class="dg-meta">' in rendered.html
    # colours that must hold where <style> is lost: links on the bands, badges' backgrounds
    title_link = r'<h3 class="dg-title"><a href="[^"]*" style="color:#1f2430; text-decoration:none">'
    assert re.search(title_link, rendered.html)
    assert re.search(r'<span class="dg-badge" style="[^"]*background:#1d3f8f', rendered.html)
    assert "digest:inline" not in rendered.html  # the inlined block itself is gone
    # MRML's reset rules are not copied onto every cell (that is what keeps 40 items small)
    assert "mso-table-lspace:0; mso-table-rspace:0" not in rendered.html
    assert "data-premailer" not in rendered.html


def test_no_external_fonts_or_stylesheets(rendered: RenderedEdition) -> None:
    assert not re.search(r"<link\b[^>]*stylesheet", rendered.html, re.I)
    assert "fonts.googleapis" not in rendered.html
    assert "@import" not in rendered.html


def test_every_table_is_presentational(rendered: RenderedEdition) -> None:
    tables = re.findall(r"<table\b[^>]*>", rendered.html, re.I)
    assert tables
    assert all('role="presentation"' in tag for tag in tables), [t for t in tables if "role=" not in t]


def test_item_images_are_decorative_unlinked_and_their_alt_styled(
    rendered: RenderedEdition, edition: EditionView
) -> None:
    """The title beside an item's picture says what it shows: the picture is decorative (alt=""), not
    one more link to the item, and any alt text a client shows for a blocked image is in the email's
    font and muted ink rather than blue serif."""
    page = Links.of(rendered.html)
    with_images = [it for it in all_items(edition) if it.image_url]
    assert len(page.images) == len(with_images)
    for image in page.images:
        assert image["alt"] == "" and not image["in_link"], image
        assert re.match(r"https?://", image["src"]), image
        assert "font-family:" in image["style"] and "color:#5b6478" in image["style"], image


class Links(HTMLParser):
    """Every link of a page with its target and accessible name (aria-label, else its text, hidden
    text and images' alt included), and every image with its alt, style and whether it is in a link."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.images: list[dict[str, object]] = []
        self._open: tuple[str, str | None, list[str]] | None = None

    @classmethod
    def of(cls, page: str) -> Links:
        parser = cls()
        parser.feed(page)
        parser.close()
        return parser

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self._open = (values["href"] or "", values.get("aria-label"), [])
        elif tag == "img":
            image = {"alt": values.get("alt"), "src": values.get("src") or "", "style": values.get("style") or ""}
            self.images.append(image | {"in_link": self._open is not None})
            if self._open is not None:
                self._open[2].append(values.get("alt") or "")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            href, label, text = self._open
            self.links.append((href, label or " ".join("".join(text).split())))
            self._open = None


def test_one_link_per_item_target_and_every_name_says_which_item(
    rendered: RenderedEdition, edition: EditionView
) -> None:
    """Screen readers list links by name: the title, plus one "Read more" whose name carries the title."""
    links = Links.of(rendered.html).links
    for it in all_items(edition):
        url = html_lib.unescape(it.url or "")
        names = sorted(name for href, name in links if href == url)
        assert names == sorted([it.title, f"Read more: {it.title}"]), (it.title, names)
        if it.calendar_url:
            assert [name for href, name in links if href == it.calendar_url] == [f"Add to calendar: {it.title}"]
    item_links = [name for name in (name for _, name in links) if name.startswith(("Read more", "Add to calendar"))]
    assert len(item_links) == len(set(item_links)) > 40  # no two alike
    assert ">Read more<span " in rendered.html  # what the eye sees: "Read more"


def test_a_preheader_is_escaped_and_without_one_there_is_no_filler() -> None:
    page = render_edition(build_edition(preheader="Calls <b>&</b> events"), SITE, TODAY).html
    assert '<div class="dg-pre" style="display:none;max-height:0;overflow:hidden;mso-hide:all">' in page
    assert "Calls &lt;b&gt;&amp;&lt;/b&gt; events\u034f\u200c\u00a0" in page
    bare = render_edition(build_edition(preheader=""), SITE, TODAY).html
    assert "dg-pre" not in bare.split("</head>")[1] and "\u200c" not in bare


def test_the_hidden_part_of_a_link_name_is_hidden_by_class_and_from_outlook() -> None:
    news = item("news", "Hydrogen valleys", url="https://news.example.org/h2")
    page = render_edition(build_edition(sections=(SectionView("News", (news,)),)), SITE, TODAY).html
    assert '<span class="dg-vh" style="mso-hide:all">: Hydrogen valleys</span>' in page
    head = "".join(re.findall(r"<style\b[^>]*>(.*?)</style>", page, re.S))
    hidden = re.search(r"\.dg-vh \{([^}]*)\}", head)
    assert hidden and "width: 1px" in hidden.group(1) and "overflow: hidden" in hidden.group(1)


def test_all_links_are_absolute_or_placeholders(rendered: RenderedEdition) -> None:
    hrefs = re.findall(r'\bhref="([^"]*)"', rendered.html)
    assert hrefs
    markers = set(PLACEHOLDERS.values())
    for href in hrefs:
        if href.startswith("#"):  # "In this issue" links to the sections' headings in the same document
            assert f'id="{href[1:]}"' in rendered.html, href
            continue
        assert href in markers or re.match(r"https?://", href), href
    assert f'href="{PLACEHOLDERS["unsubscribe_url"]}"' in rendered.html
    assert f'href="{PLACEHOLDERS["preferences_url"]}"' in rendered.html
    assert 'href="http://127.0.0.1:8000/archive/2026-12-03-weekly-digest"' in rendered.html


def test_forty_items_stay_small(rendered: RenderedEdition) -> None:
    size = len(rendered.html.encode("utf-8"))
    print(f"\n40-item edition: HTML {size / 1024:.1f} KiB, text {len(rendered.text.encode()) / 1024:.1f} KiB")
    assert size < 100 * 1024


def test_every_title_in_html_and_text(rendered: RenderedEdition, edition: EditionView) -> None:
    for it in all_items(edition):
        assert html_lib.escape(it.title, quote=False) in rendered.html, it.title
        assert it.title in rendered.text.replace("\n  ", " "), it.title


def test_title_markup_is_escaped(rendered: RenderedEdition) -> None:
    assert "<script" not in rendered.html.lower()
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in rendered.html
    assert "<script>alert('x')</script>" in rendered.text  # the text part is plain text


def test_text_part_lists_every_link(rendered: RenderedEdition, edition: EditionView) -> None:
    for it in all_items(edition):
        if it.url:
            assert it.url in rendered.text, it.url
        if it.calendar_url:
            assert f"Add to calendar: {it.calendar_url}" in rendered.text
    assert "View in browser: http://127.0.0.1:8000/archive/2026-12-03-weekly-digest" in rendered.text
    assert f"Unsubscribe: {PLACEHOLDERS['unsubscribe_url']}" in rendered.text
    assert f"Manage preferences: {PLACEHOLDERS['preferences_url']}" in rendered.text


def test_text_part_is_readable(rendered: RenderedEdition) -> None:
    text = rendered.text
    assert "<p>" not in text and "&amp;" not in text
    assert "Upcoming events\n---------------\n" in text
    assert "Latest news\n-----------\n" in text
    assert f"Dear {PLACEHOLDERS['name']}," in text
    assert "Welcome to this week's digest.\n\nTwo calls close soon: see below." in text
    for line in text.splitlines():
        assert len(line) <= 72 or "://" in line or PLACEHOLDERS["unsubscribe_url"] in line, line
    assert "\n\n\n" not in text


def test_event_times_in_the_events_own_zone(rendered: RenderedEdition) -> None:
    for part in (rendered.html, rendered.text):
        assert "Tue 8 Dec 2026, 08:00–17:00 Lisbon time (09:00–18:00 CET)" in part  # Lisbon, the site's clock after
        assert "Tue 8 Dec 2026, 09:00–17:00 CET" in part  # Brussels
        assert "8–10 Dec 2026" in part  # multi-day, Vienna
        assert "Sun 10 Jan 2027, 14:30–16:00 CET" in part  # no zone given: the site's zone
    assert "Add to calendar" in rendered.html


@pytest.mark.parametrize(
    ("starts", "ends", "zone", "expected"),
    [
        (utc(2026, 12, 8, 8), None, "Europe/Lisbon", "Tue 8 Dec 2026, 08:00 WET"),
        (utc(2026, 7, 8, 8), utc(2026, 7, 8, 10), "Europe/Brussels", "Wed 8 Jul 2026, 10:00–12:00 CEST"),
        (utc(2026, 11, 30, 8), utc(2026, 12, 2, 15), "Europe/Brussels", "30 Nov – 2 Dec 2026, from 09:00 CET"),
        (utc(2026, 12, 30, 8), utc(2027, 1, 2, 15), "Europe/Brussels", "30 Dec 2026 – 2 Jan 2027, from 09:00 CET"),
        # all-day, with the iCalendar-style exclusive end at midnight
        (utc(2026, 12, 7, 23), utc(2026, 12, 9, 23), "Europe/Brussels", "8–9 Dec 2026"),
        (utc(2026, 12, 7, 23), utc(2026, 12, 8, 23), "Europe/Brussels", "Tue 8 Dec 2026"),
        # a zone without a letter abbreviation
        (utc(2026, 12, 8, 7), utc(2026, 12, 8, 9), "Europe/Istanbul", "Tue 8 Dec 2026, 10:00–12:00 UTC+3"),
        # the clocks change during the event
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 3), "Europe/Brussels", "Sun 29 Mar 2026, 01:00 CET – 05:00 CEST"),
    ],
)
def test_event_when(starts: datetime, ends: datetime | None, zone: str, expected: str) -> None:
    assert event_when(starts, ends, ZoneInfo(zone)) == expected


def test_unknown_event_zone_falls_back_to_the_site_zone() -> None:
    odd = build_edition(
        sections=(
            SectionView(
                "Events",
                (item("event", "Somewhere", starts_at=utc(2026, 12, 8, 8), timezone="Mars/Olympus_Mons"),),
            ),
        )
    )
    assert "Tue 8 Dec 2026, 09:00 CET" in render_edition(odd, SITE, TODAY).text


def test_deadlines_and_days_left(rendered: RenderedEdition) -> None:
    for part in (rendered.html, rendered.text):
        assert "Deadline: 15 Dec 2026, 17:00 CET" in part
        assert "12 days left" in part
        assert "Closes today" in part
        assert "1 day left" in part
        assert "Closed" in part
    assert "Deadline: 10 Jan 2027 (38 days left)" in rendered.text  # 23:59 local: no hour shown


def test_personalise_fills_every_placeholder(rendered: RenderedEdition) -> None:
    values = {
        "name": "Ana Silva",
        "unsubscribe_url": "http://127.0.0.1:8000/unsubscribe/tok123",
        "preferences_url": "http://127.0.0.1:8000/preferences/tok123",
    }
    for part in (rendered.html, rendered.text):
        done = personalise(part, values)
        assert "XDIGESTX" not in done
        for marker in PLACEHOLDERS.values():
            assert marker not in done
        assert "Dear Ana Silva," in done
        assert "http://127.0.0.1:8000/unsubscribe/tok123" in done
        assert "http://127.0.0.1:8000/preferences/tok123" in done
    assert 'href="http://127.0.0.1:8000/unsubscribe/tok123"' in personalise(rendered.html, values)


def test_personalise_requires_every_value(rendered: RenderedEdition) -> None:
    with pytest.raises(ValueError, match="unsubscribe_url"):
        personalise(rendered.html, {"name": "A", "preferences_url": "http://x.test/p"})


def test_personalise_does_not_reexpand_values() -> None:
    marker = PLACEHOLDERS["name"]
    out = personalise(
        f"{marker} {PLACEHOLDERS['unsubscribe_url']}",
        {
            "name": PLACEHOLDERS["unsubscribe_url"],
            "unsubscribe_url": "u",
            "preferences_url": "p",
        },
    )
    assert out == f"{PLACEHOLDERS['unsubscribe_url']} u"


def test_without_intro_images_or_links() -> None:
    bare = EditionView(
        title="Newsletter",
        subject="Newsletter",
        preheader="Short one",
        sections=(SectionView("News", (item("news", "Only a title", summary_html=""),)),),
        archive_url="/archive/newsletter",  # relative: joined to the site
    )
    out = render_edition(bare, SITE, TODAY)
    assert "Only a title" in out.html and "Only a title" in out.text
    assert 'href="http://127.0.0.1:8000/archive/newsletter"' in out.html
    assert "Thursday 3 December 2026" in out.html  # no sent_on: today


def test_unsafe_url_schemes_never_become_links() -> None:
    bad = build_edition(
        sections=(SectionView("News", (item("news", "Sneaky", url="javascript:alert(1)"),)),),
    )
    out = render_edition(bad, SITE, TODAY)
    assert "javascript:" not in out.html and "javascript:" not in out.text


def test_unknown_item_kind_is_an_error() -> None:
    bad = build_edition(sections=(SectionView("X", (item("podcast", "Episode 1"),)),))
    with pytest.raises(RenderError, match="podcast"):
        render_edition(bad, SITE, TODAY)


@pytest.fixture
def template_copy(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, target)
    return target


def test_syntax_error_names_file_and_line(template_copy: Path, edition: EditionView) -> None:
    layout = template_copy / "email" / "layout.mjml.j2"
    lines = layout.read_text(encoding="utf-8").splitlines()
    lines.insert(11, "{% if site.name %}unclosed")  # becomes line 12
    layout.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RenderError) as caught:
        render_edition(edition, SITE, TODAY, templates_dir=template_copy)
    message = str(caught.value)
    assert message.startswith("templates/email/layout.mjml.j2 line ")
    line = int(re.search(r" line (\d+):", message).group(1))  # type: ignore[union-attr]
    assert line >= 12  # Jinja reports where it gave up looking for {% endif %}


def test_syntax_error_in_an_item_block(template_copy: Path, edition: EditionView) -> None:
    block = template_copy / "email" / "items" / "call.mjml.j2"
    block.write_text("{# a comment #}\n{% if entry.url %}\n<mj-text>{{ entry.url }</mj-text>\n", encoding="utf-8")
    with pytest.raises(RenderError, match=r"^templates/email/items/call\.mjml\.j2 line \d+: "):
        render_edition(edition, SITE, TODAY, templates_dir=template_copy)


def test_undefined_variable_names_file_and_line(template_copy: Path, edition: EditionView) -> None:
    block = template_copy / "email" / "items" / "news.mjml.j2"
    source = block.read_text(encoding="utf-8").splitlines()
    source.insert(2, "{{ entry.item.no_such_field }}")  # line 3
    block.write_text("\n".join(source) + "\n", encoding="utf-8")
    with pytest.raises(RenderError, match=r"^templates/email/items/news\.mjml\.j2 line 3: .*no_such_field"):
        render_edition(edition, SITE, TODAY, templates_dir=template_copy)


def test_text_template_errors_too(template_copy: Path, edition: EditionView) -> None:
    (template_copy / "email" / "edition.txt.j2").write_text("ok\n{{ nothing_here }}\n", encoding="utf-8")
    with pytest.raises(RenderError, match=r"^templates/email/edition\.txt\.j2 line 2: .*nothing_here"):
        render_edition(edition, SITE, TODAY, templates_dir=template_copy)


def test_broken_summary_markup_is_repaired_not_fatal() -> None:
    odd = build_edition(sections=(SectionView("News", (item("news", "Broken", summary_html="<p>a <b>x"),)),))
    out = render_edition(odd, SITE, TODAY)
    assert re.search(r"<p\b[^>]*>a <b>x</b></p>", out.html)


def test_mjml_error_names_the_template_line(template_copy: Path, edition: EditionView) -> None:
    block = template_copy / "email" / "items" / "call.mjml.j2"
    source = block.read_text(encoding="utf-8")
    broken = source.replace('<span class="dg-left', '<b><span class="dg-left', 1)  # a <b> never closed
    assert broken != source
    block.write_text(broken, encoding="utf-8")
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if "<b><span" in text)
    with pytest.raises(RenderError) as caught:
        render_edition(edition, SITE, TODAY, templates_dir=template_copy)
    message = str(caught.value)
    assert message.startswith(f"templates/email/items/call.mjml.j2 line {line}: MJML: "), message
    assert "<b> is not closed" in message


def test_missing_templates_dir(tmp_path: Path, edition: EditionView) -> None:
    with pytest.raises(RenderError, match="templates"):
        render_edition(edition, SITE, TODAY, templates_dir=tmp_path / "nope")


def one_news(summary_html: str, **fields: object) -> EditionView:
    news = item("news", "A story", summary_html=summary_html, url="https://news.example.org/story", **fields)
    return build_edition(sections=(SectionView("News", (news,)),))


READ_MORE = '<span class="dg-readon"><a href="https://news.example.org/story"[^>]*>Read more<span class="dg-vh"'


def test_a_long_summary_becomes_the_same_short_teaser_in_both_parts_with_read_more_after_it() -> None:
    long = "<p>" + " ".join(["Clusters cooperate across borders."] * 30) + "</p><p>Second paragraph.</p>"
    out = render_edition(one_news(long), SITE, TODAY)
    teaser = re.search(r'<div class="dg-summary"><p class="dg-last"[^>]*>([^<]*) ' + READ_MORE, out.html)
    assert teaser and teaser.group(1).endswith("…") and len(teaser.group(1)) <= 141  # a card's two lines
    assert teaser.group(1).endswith("borders…")  # cut at a word, not inside one
    assert "Second paragraph" not in out.html and "Second paragraph" not in out.text
    assert teaser.group(1).split()[-2] in out.text
    assert 'class="dg-links"' not in out.html  # no line of its own for "Read more"


def test_read_more_follows_a_short_summarys_last_paragraph_or_a_list_on_a_line_of_its_own() -> None:
    summary = '<p>First.</p><p>Then <a href="https://example.org/r">the report</a>.</p>'
    two = render_edition(one_news(summary), SITE, TODAY)
    assert re.search(
        r'<p\b[^>]*>First\.</p><p class="dg-last"[^>]*>Then <a href="https://example.org/r"[^>]*>the report</a>\. '
        + READ_MORE,
        two.html,
    )
    listed = render_edition(one_news("<p>Topics:</p><ul><li>hydrogen</li></ul>"), SITE, TODAY).html
    assert "</ul></div>" in listed and 'class="dg-last"' not in listed
    assert re.search(r'<p class="dg-links"[^>]*><a href="https://news.example.org/story"[^>]*>Read more<', listed)


def test_a_short_summary_keeps_its_markup_and_the_text_spells_its_links() -> None:
    summary = (
        '<h3>Results</h3><p>Read <a href="/reports/1">the report</a> or '
        '<a href="https://example.org/x?a=1&amp;b=2">https://example.org/x?a=1&amp;b=2</a>.</p>'
        '<p><img src="https://example.org/chart.png"> <a href="javascript:alert(1)">bad</a></p>'
    )
    out = render_edition(one_news(summary), SITE, TODAY)
    assert re.search(r"<p\b[^>]*><strong>Results</strong></p>", out.html)  # headings become bold lines
    assert 'href="http://127.0.0.1:8000/reports/1"' in out.html  # relative links joined to the site
    assert "chart.png" not in out.html and "javascript:" not in out.html  # no images, no unsafe links
    text = " ".join(out.text.split())
    assert "Read the report (http://127.0.0.1:8000/reports/1) or https://example.org/x?a=1&b=2." in text


def test_the_date_is_not_repeated_under_a_title_that_has_it() -> None:
    dated = render_edition(build_edition(title="Weekly digest — 3 December 2026"), SITE, TODAY)
    assert "Thursday 3 December 2026" not in dated.html and 'class="dg-date"' not in dated.html
    assert dated.text.startswith("European Cluster Collaboration Platform\nWeekly digest — 3 December 2026\n====")


def test_a_trimmed_edition_points_to_the_archive() -> None:
    out = render_edition(build_edition(more_count=7), SITE, TODAY)
    assert "7 more items are in this edition than fit in an email." in out.html
    assert re.search(
        r'href="http://127\.0\.0\.1:8000/archive/2026-12-03-weekly-digest"[^>]*>See the full edition', out.html
    )
    assert "See the full edition in the archive: http://127.0.0.1:8000/archive/2026-12-03-weekly-digest" in out.text
    assert "more items are in this edition" not in render_edition(build_edition(), SITE, TODAY).html


def test_calls_closing_within_a_week_get_the_warm_badge(rendered: RenderedEdition) -> None:
    assert re.search(r'<span class="dg-left dg-urgent"[^>]*>1 day left</span>', rendered.html)
    assert re.search(r'<span class="dg-left"[^>]*>12 days left</span>', rendered.html)
    assert re.search(r'<span class="dg-left dg-closed"[^>]*>Closed</span>', rendered.html)
