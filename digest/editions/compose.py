"""From an edition to the email subscribers get: the views the renderer needs, the size budget
(trimming to the top items when the HTML would be clipped), and freezing the result at send time.

``freeze`` is what sending calls: it applies the send-time rules (a call whose deadline passed since
assembly, or an event that has ended, is dropped and marked expired; an item another edition has
sent meanwhile is dropped), renders once, and keeps HTML, text and warnings on the edition, with
the public copy the archive shows (``archive_html``: the same templates, "public" audience). A
rendering error raises EditionRenderError and nothing is kept, so nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, object_session

from digest.config import Config
from digest.editions.arrange import sections_of
from digest.editions.core import EditionError, add_warnings, lapsed, left_out_notes, sent_item_ids
from digest.models import Edition, EditionItem, Item, utcnow
from digest.rendering.markdown import intro_html as render_intro
from digest.rendering.render import (
    EditionView,
    ItemView,
    RenderedEdition,
    RenderError,
    SectionView,
    SiteView,
    personalise,
    render_edition,
)

# Gmail clips a message whose HTML passes about 102 KB; stay under 100 KB with real links filled in.
SIZE_LIMIT = 100 * 1024
# Stand-ins as long as the real per-recipient values, to measure what subscribers actually get.
_SIZING_VALUES = {"name": "N" * 40, "unsubscribe_url": "u" * 140, "preferences_url": "p" * 140}


class EditionRenderError(EditionError):
    """The edition does not render: the message names the template and line; nothing was sent."""


@dataclass
class Composition:
    html: str
    text: str
    size: int  # bytes of the whole edition's HTML, personalised
    kept: int
    total: int
    warnings: list[str] = field(default_factory=list)


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


def item_view(config: Config, item: Item) -> ItemView:
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
        calendar_url=f"{config.site.base_url}/events/{item.id}.ics" if item.kind == "event" else None,
    )


def edition_view(config: Config, edition: Edition, on_day: date) -> EditionView:
    sections = tuple(
        SectionView(
            title=section.title,
            items=tuple(item_view(config, entry.item) for entry in section.entries),
            layout=section.layout,
            anchor=f"section-{section.key}",
        )
        for section in sections_of(edition)
        if section.entries
    )
    return EditionView(
        title=edition.title,
        subject=edition.subject,
        preheader=edition.preheader,
        sections=sections,
        archive_url=archive_url(config, edition),
        intro_html=render_intro(edition.intro, config.site.base_url),
        sent_on=on_day,
    )


def email_size(html: str) -> int:
    """Bytes of the HTML part as a subscriber gets it (placeholders filled with full-length values)."""
    return len(personalise(html, _SIZING_VALUES).encode("utf-8"))


def compose(config: Config, edition: Edition, now: datetime | None = None) -> Composition:
    """Render the edition as subscribers would get it now; trim it to its top items if it is too big.
    Raises RenderError."""
    today = _local_day(config, now or utcnow())
    site = site_view(config)
    view = edition_view(config, edition, today)
    whole = render_edition(view, site, today)
    total = sum(len(section.items) for section in view.sections)
    size = email_size(whole.html)
    if size <= SIZE_LIMIT:
        return Composition(whole.html, whole.text, size, total, total)
    kept, trimmed = _largest_fitting(view, site, today)
    warning = (
        f"Trimmed to its top {kept} of {total} items: the whole edition would be {size / 1024:.0f} KB of HTML, "
        f"over the {SIZE_LIMIT // 1024} KB that keeps Gmail from clipping it. The email ends with a link "
        f"to the archive copy, which has all {total}."
    )
    return Composition(trimmed.html, trimmed.text, size, kept, total, [warning])


def _local_day(config: Config, now: datetime) -> date:
    return now.astimezone(ZoneInfo(config.site.timezone)).date()


def public_copy(config: Config, edition: Edition, on_day: date) -> RenderedEdition:
    """The edition as the archive shows it: whole, for the public audience (nobody's name or links)."""
    return render_edition(edition_view(config, edition, on_day), site_view(config), on_day, audience="public")


def _largest_fitting(view: EditionView, site: SiteView, today: date) -> tuple[int, RenderedEdition]:
    """The most top items that fit (binary search: rendering is the costly step)."""
    ranked = _ranked(view)
    low, high = 1, len(ranked) - 1
    best: tuple[int, RenderedEdition] | None = None
    while low <= high:
        middle = (low + high) // 2
        rendered = render_edition(_keeping(view, set(ranked[:middle])), site, today)
        if email_size(rendered.html) <= SIZE_LIMIT:
            best, low = (middle, rendered), middle + 1
        else:
            high = middle - 1
    if best is None:
        raise RenderError(f"even a single item makes the email larger than {SIZE_LIMIT // 1024} KB")
    return best


def _ranked(view: EditionView) -> list[tuple[int, int]]:
    """(section, index) of every item, most important first: featured items, then each section's
    first items, then its second ones, and so on, so every section keeps its top."""
    places = [(s, i) for s, section in enumerate(view.sections) for i in range(len(section.items))]
    return sorted(places, key=lambda place: (not view.sections[place[0]].items[place[1]].featured, place[1], place[0]))


def _keeping(view: EditionView, places: set[tuple[int, int]]) -> EditionView:
    sections = tuple(
        replace(section, items=tuple(item for i, item in enumerate(section.items) if (s, i) in places))
        for s, section in enumerate(view.sections)
    )
    left_out = sum(len(section.items) for section in view.sections) - len(places)
    return replace(view, sections=tuple(section for section in sections if section.items), more_count=left_out)


def freeze(config: Config, edition: Edition, now: datetime | None = None, public: bool = True) -> None:
    """Apply the send-time rules and render once: every recipient gets exactly this HTML and text.

    The public copy for the archive is rendered too, unless `public` is False (a preview, which is
    rolled back, has no use for it: the public copy would double its rendering time)."""
    now = now or utcnow()
    notes = _drop_what_lapsed(edition, now)
    if not edition.entries:
        raise EditionError(f"edition {edition.id} has nothing left to send: {' '.join(notes)}")
    try:
        composed = compose(config, edition, now)
        archive_html = public_copy(config, edition, _local_day(config, now)).html if public else None
    except RenderError as error:
        edition.last_error = f"not sent: {error}"
        raise EditionRenderError(f"edition {edition.id} was not sent: {error}") from error
    edition.html, edition.text, edition.archive_html = composed.html, composed.text, archive_html
    add_warnings(edition, [*notes, *composed.warnings])
    edition.last_error = None


def check_rendering(config: Config, edition: Edition, now: datetime | None = None) -> list[str]:
    """Render a draft to warn its editors early (trimming, a broken template); returns the new warnings."""
    try:
        found = compose(config, edition, now).warnings
    except RenderError as error:
        edition.last_error = f"does not render: {error}"
        found = [f"The edition does not render yet, so it cannot be sent: {error}"]
    add_warnings(edition, found)
    return found


def record_failure(session: Session, edition_id: int, message: str) -> None:
    """Keep why an edition was not sent (call in a new transaction: the failed one was rolled back)."""
    edition = session.get(Edition, edition_id)
    if edition is not None:
        edition.last_error = message


def _drop_what_lapsed(edition: Edition, now: datetime) -> list[str]:
    session = object_session(edition)
    sent_elsewhere = set(session.scalars(sent_item_ids())) if session is not None else set()
    keep: list[EditionItem] = []
    expired: list[Item] = []
    repeated: list[Item] = []
    for entry in edition.entries:
        if lapsed(entry.item, now):
            entry.item.status = "expired"
            expired.append(entry.item)
        elif entry.item_id in sent_elsewhere:
            repeated.append(entry.item)
        else:
            keep.append(entry)
    edition.entries = keep
    return left_out_notes(
        ("Left out at send time, deadline passed or ended (marked expired)", expired),
        ("Left out at send time, another edition has sent it since", repeated),
    )
