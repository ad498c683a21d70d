"""The archive's HTML pages: home, the index by year and month, one edition, and search results.

Each function gathers what its page shows and renders it with ``render`` (Flask's render_template:
the web app and the static export share the templates); ``links`` says where things live.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from archive import dates
from archive.labels import KIND_LABELS, TYPE_LABELS
from archive.links import Links
from archive.published import edition_page, entries_of, neighbours, personal_leaks, sent_editions, stored_public_copy
from archive.search import SearchResults
from digest.config import Config, SiteConfig
from digest.editions.compose import public_copy
from digest.models import Edition, EditionItem, Item
from digest.rendering.text import clip, html_to_text

Render = Callable[..., str]

PER_PAGE = 20
HOME_EDITIONS = 5
FIRST_ITEMS = 3
DESCRIPTION_LIMIT = 200
SNIPPET_LIMIT = 220


class PersonalLinkLeak(Exception):
    """A public page would carry a subscriber's personal link: it is not served."""


@dataclass(frozen=True)
class EditionCard:
    """An edition as lists show it."""

    slug: str
    title: str
    type_label: str
    sent_at: datetime
    long_day: str  # "Friday 20 November 2026"
    short_day: str  # "20 Nov 2026"
    day_in_month: str  # "Fri 20 Nov"
    first_items: list[str]
    more: int  # how many items beyond the first ones


@dataclass(frozen=True)
class MonthGroup:
    key: str  # "2026-11", an anchor
    label: str  # "November"
    cards: list[EditionCard]


@dataclass(frozen=True)
class YearGroup:
    year: int
    months: list[MonthGroup]


def edition_cards(session: Session, editions: list[Edition], timezone: str) -> list[EditionCard]:
    entries = entries_of(session, [edition.id for edition in editions])
    return [_card(edition, entries[edition.id], timezone) for edition in editions]


def _card(edition: Edition, entries: list[EditionItem], timezone: str) -> EditionCard:
    sent_at = edition.sent_at or edition.created_at
    return EditionCard(
        slug=edition.slug,
        title=edition.title,
        type_label=TYPE_LABELS.get(edition.type, edition.type.title()),
        sent_at=sent_at,
        long_day=dates.long_day(sent_at, timezone),
        short_day=dates.short_day(sent_at, timezone),
        day_in_month=dates.day_in_month(sent_at, timezone),
        first_items=[entry.item.title for entry in entries[:FIRST_ITEMS]],
        more=max(0, len(entries) - FIRST_ITEMS),
    )


def by_year_and_month(cards: list[EditionCard], timezone: str) -> list[YearGroup]:
    """Cards (newest first) grouped by year, then month, in the site's time zone."""
    years: list[YearGroup] = []
    for card in cards:
        local = dates.local(card.sent_at, timezone)
        if not years or years[-1].year != local.year:
            years.append(YearGroup(year=local.year, months=[]))
        months = years[-1].months
        key = f"{local.year}-{local.month:02d}"
        if not months or months[-1].key != key:
            months.append(MonthGroup(key=key, label=dates.month_name(local.month), cards=[]))
        months[-1].cards.append(card)
    return years


def home_page(render: Render, session: Session, site: SiteConfig, links: Links) -> str:
    cards = edition_cards(session, sent_editions(session, limit=HOME_EDITIONS), site.timezone)
    return render("home.html", links=links, cards=cards, active="home")


def index_page(render: Render, session: Session, site: SiteConfig, links: Links, number: int) -> str | None:
    """One page of the archive index; None for a page that does not exist."""
    page = edition_page(session, number, PER_PAGE)
    if page is None:
        return None
    years = by_year_and_month(edition_cards(session, page.editions, site.timezone), site.timezone)
    return render("archive_index.html", links=links, page=page, years=years, active="archive")


def edition_page_html(render: Render, session: Session, config: Config, links: Links, edition: Edition) -> str:
    """The edition's public copy (what subscribers saw, rendered for the public) in a web frame."""
    site = config.site
    entries = entries_of(session, [edition.id])[edition.id]
    older, newer = neighbours(session, edition)
    cards = edition_cards(session, [e for e in (older, newer) if e is not None], site.timezone)
    card_of = {card.slug: card for card in cards}
    context = {
        "links": links,
        "edition": edition,
        "card": _card(edition, entries, site.timezone),
        "older": card_of.get(older.slug) if older else None,
        "newer": card_of.get(newer.slug) if newer else None,
        "item_count": len(entries),
        "description": description(edition, entries),
        "canonical": links.canonical_edition(edition.slug),
        "still_sending": edition.status != "sent",
    }
    document = assemble(
        public_html(config, edition),
        head=render("archive_edition_head.html", **context),
        header=render("archive_edition_header.html", **context),
        footer=render("archive_edition_footer.html", **context),
    )
    leaks = personal_leaks(document, site.base_url)
    if leaks:
        raise PersonalLinkLeak(f"edition {edition.slug}: the public copy still carries {leaks[0]!r}")
    return document


_RENDERED_LATE: OrderedDict[tuple[str, int, str], str] = OrderedDict()
_RENDERED_LATE_KEPT = 32
_RENDERED_LATE_LOCK = threading.Lock()  # waitress serves pages from several threads


def public_html(config: Config, edition: Edition) -> str:
    """The public copy stored when the edition was frozen; one frozen before there were public copies
    gets one now, from its frozen items on the day it was sent, kept in memory for the next readers."""
    stored = stored_public_copy(edition)
    if stored is not None:
        return stored
    # the frozen email identifies what was sent (and the site, which database it came from)
    key = (config.site.base_url, edition.id, hashlib.sha256((edition.html or "").encode()).hexdigest())
    with _RENDERED_LATE_LOCK:
        if key in _RENDERED_LATE:
            _RENDERED_LATE.move_to_end(key)
            return _RENDERED_LATE[key]
    day = dates.local(edition.sent_at or edition.created_at, config.site.timezone).date()
    document = public_copy(config, edition, day).html  # outside the lock: two first readers may both render
    with _RENDERED_LATE_LOCK:
        _RENDERED_LATE[key] = document
        while len(_RENDERED_LATE) > _RENDERED_LATE_KEPT:
            _RENDERED_LATE.popitem(last=False)
    return document


def search_page(render: Render, site: SiteConfig, links: Links, results: SearchResults) -> str:
    return render(
        "archive_search.html", links=links, results=results, snippet=snippet, kind_labels=KIND_LABELS, active="search"
    )


def description(edition: Edition, entries: list[EditionItem]) -> str:
    """A sentence for search engines and link previews: what the edition carried."""
    titles = "; ".join(entry.item.title for entry in entries[:FIRST_ITEMS])
    text = f"{edition.preheader.rstrip('.')}: {titles}" if edition.preheader and titles else edition.preheader or titles
    return clip(html_to_text(text), DESCRIPTION_LIMIT) if text else edition.title


def descriptions(session: Session, editions: list[Edition]) -> dict[int, str]:
    entries = entries_of(session, [edition.id for edition in editions])
    return {edition.id: description(edition, entries[edition.id]) for edition in editions}


def snippet(item: Item) -> str:
    return clip(html_to_text(item.summary), SNIPPET_LIMIT)


_TITLE = re.compile(r"<title\b[^>]*>.*?</title>", re.I | re.S)
_HEAD_END = re.compile(r"</head\s*>", re.I)
_BODY_START = re.compile(r"<body\b[^>]*>", re.I)
_BODY_END = re.compile(r"</body\s*>", re.I)


def assemble(document: str, head: str, header: str, footer: str) -> str:
    """Put the web parts into the email document: our <title> and meta tags in its head, the web
    header at the top of its body and the footer at the end; the email itself is left as it was."""
    document = _TITLE.sub("", document, count=1)
    document = _insert(document, _HEAD_END, head, before=True) if _HEAD_END.search(document) else head + document
    if _BODY_START.search(document):
        document = _insert(document, _BODY_START, header, before=False)
    else:
        document = header + document
    if _BODY_END.search(document):
        return _insert(document, _BODY_END, footer, before=True)
    return document + footer


def _insert(document: str, pattern: re.Pattern[str], fragment: str, before: bool) -> str:
    match = pattern.search(document)
    assert match is not None
    at = match.start() if before else match.end()
    return document[:at] + fragment + document[at:]
