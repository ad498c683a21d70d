"""The archive's Atom feeds (feedgen): the sent editions with their full content, and the items they published."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from sqlalchemy.orm import Session

from archive.labels import KIND_LABELS
from archive.links import Links
from archive.pages import descriptions
from archive.published import entries_of, recently_published_items, sent_editions
from digest.config import SiteConfig
from digest.models import Edition, EditionItem, Item
from digest.rendering.dates import item_dates
from digest.rendering.markdown import intro_html

FEED_EDITIONS = 30  # entries in the editions feed
FEED_ITEMS = 100  # entries in the items feed

Render = Callable[..., str]


def editions_feed_xml(render: Render, session: Session, site: SiteConfig, links: Links) -> bytes:
    """The editions feed as served: the latest sent editions, each in full."""
    editions = sent_editions(session, limit=FEED_EDITIONS)
    contents = feed_contents(render, session, editions, site, links)
    return editions_feed(editions, contents, descriptions(session, editions), site, links)


def items_feed_xml(render: Render, session: Session, site: SiteConfig, links: Links) -> bytes:
    """The items feed as served: the items of the latest sent editions."""
    rows = recently_published_items(session, FEED_ITEMS)
    return items_feed(rows, item_contents(render, rows, site, links), site, links)


def editions_feed(
    editions: list[Edition], contents: dict[int, str], summaries: dict[int, str], site: SiteConfig, links: Links
) -> bytes:
    """Atom: one entry per sent edition (newest first), its whole content as HTML."""
    feed = _feed(site, links, "/archive/feed.xml", f"{site.name}: editions", "Every edition, as sent.")
    for edition in editions:
        url = links.canonical_edition(edition.slug)
        entry = feed.add_entry(order="append")
        entry.id(url)
        entry.title(edition.title)
        entry.link(href=url, rel="alternate", type="text/html")
        entry.published(edition.sent_at)
        entry.updated(edition.sent_at)
        entry.summary(summaries.get(edition.id) or edition.preheader or edition.title)
        entry.content(contents[edition.id], type="html")
    _set_updated(feed, [edition.sent_at for edition in editions])
    return feed.atom_str(pretty=True)


def items_feed(rows: list[tuple[Item, Edition]], contents: dict[int, str], site: SiteConfig, links: Links) -> bytes:
    """Atom: the items the digest published, newest edition first, each linking to its source and edition."""
    feed = _feed(site, links, "/archive/items.xml", f"{site.name}: items", "Every item the digest has published.")
    host = urlsplit(links.base_url).hostname or "cluster-digest"
    for item, edition in rows:
        edition_url = links.canonical_edition(edition.slug)
        entry = feed.add_entry(order="append")
        entry.id(f"tag:{host},{item.collected_at:%Y-%m-%d}:item-{item.id}")
        entry.title(item.title)
        # One link only: feedgen 1.0 writes no rel on entry links, so a second one would be a second
        # "alternate". The edition that carried the item is linked from the content.
        entry.link(href=item.url or edition_url, rel="alternate", type="text/html")
        published = item.published_at if item.published_at and item.published_at <= edition.sent_at else None
        entry.published(published or edition.sent_at)
        entry.updated(edition.sent_at)
        entry.author({"name": item.organisation or site.name})
        entry.category(term=item.kind, label=KIND_LABELS.get(item.kind, item.kind))
        entry.content(contents[item.id], type="html")
    _set_updated(feed, [edition.sent_at for _, edition in rows])
    return feed.atom_str(pretty=True)


def _feed(site: SiteConfig, links: Links, path: str, title: str, subtitle: str) -> FeedGenerator:
    feed = FeedGenerator()
    feed.id(links.absolute(path))
    feed.title(title)
    feed.subtitle(subtitle)
    feed.author({"name": site.name})
    feed.link(href=links.absolute("/archive/"), rel="alternate", type="text/html")
    feed.link(href=links.absolute(path), rel="self", type="application/atom+xml")
    feed.language(site.language)
    return feed


def _set_updated(feed: FeedGenerator, moments: list[datetime | None]) -> None:
    known = [moment for moment in moments if moment is not None]
    if known:  # else feedgen uses the current time
        feed.updated(max(known))


def feed_contents(
    render: Render, session: Session, editions: list[Edition], site: SiteConfig, links: Links
) -> dict[int, str]:
    """The HTML content of each edition's feed entry: its introduction (Markdown rendered and sanitised
    as on the archive's page of the edition), sections and items, no personal parts."""
    entries = entries_of(session, [edition.id for edition in editions])
    when = _when(site.timezone)
    return {
        edition.id: render(
            "archive_feed_entry.html",
            links=links,
            edition=edition,
            intro=intro_html(edition.intro, links.base_url),
            sections=_sections(entries[edition.id]),
            when=when,
        )
        for edition in editions
    }


def item_contents(render: Render, rows: list[tuple[Item, Edition]], site: SiteConfig, links: Links) -> dict[int, str]:
    when = _when(site.timezone)
    return {
        item.id: render("archive_feed_item.html", links=links, item=item, edition=edition, when=when)
        for item, edition in rows
    }


def _when(timezone: str) -> Callable[[Item], str]:
    """For an item, its event dates or its deadline ("" for others)."""

    def when(item: Item) -> str:
        return item_dates(item, timezone) or ""

    return when


def _sections(entries: list[EditionItem]) -> list[tuple[str, list[Item]]]:
    sections: list[tuple[str, list[Item]]] = []
    for entry in entries:
        if not sections or sections[-1][0] != entry.section:
            sections.append((entry.section, []))
        sections[-1][1].append(entry.item)
    return sections
