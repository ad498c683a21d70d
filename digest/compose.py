"""Turn an edition and its items into the views the renderer needs, and freeze the result."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from digest.config import Config
from digest.models import Edition, EditionItem, Item, utcnow
from digest.render import EditionView, ItemView, RenderedEdition, SectionView, SiteView, render_edition


def site_view(config: Config) -> SiteView:
    site = config.site
    return SiteView(
        name=site.name,
        base_url=site.base_url,
        timezone=site.timezone,
        language=site.language,
        contact_address=site.contact_address,
    )


def archive_url(config: Config, edition: Edition) -> str:
    return f"{config.site.base_url}/archive/{edition.slug}"


def item_view(item: Item) -> ItemView:
    return ItemView(
        kind=item.kind,
        title=item.title,
        summary_html=item.summary or "",
        url=item.url,
        image_url=item.image_url,
        organisation=item.organisation,
        country=item.country,
        published_at=item.published_at,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        location=item.location,
        timezone=item.timezone,
        deadline=item.deadline,
        featured=item.featured,
    )


def edition_view(config: Config, edition: Edition, on_day: date) -> EditionView:
    return EditionView(
        title=edition.title,
        subject=edition.subject,
        preheader=edition.preheader,
        sections=_sections(edition.entries),
        archive_url=archive_url(config, edition),
        intro_html="",
        sent_on=on_day,
    )


def _sections(entries: list[EditionItem]) -> tuple[SectionView, ...]:
    grouped: dict[str, list[ItemView]] = {}
    for entry in sorted(entries, key=lambda entry: entry.position):
        grouped.setdefault(entry.section, []).append(item_view(entry.item))
    return tuple(SectionView(title=title, items=tuple(views)) for title, views in grouped.items())


def render(config: Config, edition: Edition, now: datetime | None = None) -> RenderedEdition:
    """Render the edition as subscribers would get it today (placeholders left for each recipient)."""
    today = (now or utcnow()).astimezone(ZoneInfo(config.site.timezone)).date()
    return render_edition(edition_view(config, edition, today), site_view(config), today)


def freeze(config: Config, edition: Edition, now: datetime | None = None) -> None:
    """Render once and keep the result: every recipient gets exactly this HTML and text."""
    rendered = render(config, edition, now)
    edition.html = rendered.html
    edition.text = rendered.text
