"""From an edition to the email subscribers get: the views the renderer needs, the size budget
(trimming to the top items when the HTML would be clipped), and freezing the result at send time.

``freeze`` is what sending calls: it applies the send-time rules (a call whose deadline passed since
assembly, or an event that has ended, is dropped and marked expired; an item another edition has
sent meanwhile is dropped), renders once, and keeps HTML, text and warnings on the edition, with
the public copy the archive shows (``archive_html``: the same templates, "public" audience). A
rendering error raises EditionRenderError and nothing is kept, so nothing is sent.

Languages: the edition is rendered once in the site's language (``Edition.html``/``text``, and the
archive's copy) and once more in each other shipped language its recipients read (table
``edition_renderings``), never once per recipient. The chrome follows the language; the items and the
editors' texts stay as written, except a default section title still as assembly named it ("News"),
which is worded in the language too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.orm import Session, object_session

from digest.analytics.clicks import store_links
from digest.analytics.links import DELIVERY_MARKER, LinkTracker, tracker
from digest.config import Config
from digest.editions.arrange import sections_of
from digest.editions.core import (
    SECTION_KEYS,
    EditionError,
    add_warnings,
    generated_preheader,
    left_out_at_send,
    left_out_notes,
    refresh_generated_texts,
)
from digest.models import Edition, EditionRendering, Item, utcnow
from digest.rendering.i18n import language_for, translations
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
from digest.runtime import Runtime

# Gmail clips a message whose HTML passes about 102 KB; stay under 90,000 bytes with real links filled in
# (a margin for what a relay or a click-tracking rewrite adds).
SIZE_LIMIT = 90_000
# Stand-ins as long as the real per-recipient values, to measure what subscribers actually get.
_SIZING_VALUES = {"name": "N" * 40, "unsubscribe_url": "u" * 140, "preferences_url": "p" * 140}
_SIZING_SECRET = "sizing-only: tokens signed with it are measured, never sent"
_SIZING_DELIVERY_TAG = "d" * 48  # a click link's per-delivery token (analytics.per_subscriber)


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
    links: tuple[str, ...] = ()  # the click-tracked links, numbered from 1 (empty: links go direct)


def site_view(config: Config, language: str | None = None) -> SiteView:
    """The site as an email in `language` shows it (default: the site's language)."""
    site = config.site
    return SiteView(
        name=site.name,
        base_url=site.base_url,
        timezone=site.timezone,
        language=language_for(language, site.language),
        contact_address=site.contact_address,
    )


def site_language(config: Config) -> str:
    """The shipped language the site's own rendering (and the archive) is in."""
    return language_for(config.site.language)


def section_title(title: str, key: str, language: str) -> str:
    """A section's title in the email: a default title still as assembly named it is worded in the language;
    one an editor typed stays as typed."""
    return translations(language).gettext(title) if SECTION_KEYS.get(title) == key else title


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
        all_day=item.all_day,
        featured=item.featured,
        calendar_url=f"{config.site.base_url}/events/{item.id}.ics" if item.kind == "event" else None,
    )


def edition_view(config: Config, edition: Edition, on_day: date, language: str | None = None) -> EditionView:
    language = language_for(language, config.site.language)
    sections = tuple(
        SectionView(
            title=section_title(section.title, section.key, language),
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
        preheader=_preheader(edition, language),
        sections=sections,
        archive_url=archive_url(config, edition),
        intro_html=render_intro(edition.intro, config.site.base_url),
        sent_on=on_day,
    )


def _preheader(edition: Edition, language: str) -> str:
    """One an editor wrote stays as written; a generated one (stored in English) is worded in the language."""
    if edition.preheader_by_hand or language == "en":
        return edition.preheader
    return generated_preheader(edition, language)


def email_size(html: str) -> int:
    """Bytes of the HTML part as a subscriber gets it (placeholders filled with full-length values)."""
    return len(personalise(html, _SIZING_VALUES).encode("utf-8"))


def compose(
    config: Config,
    edition: Edition,
    now: datetime | None = None,
    track: bool = False,
    language: str | None = None,
    known_links: tuple[str, ...] = (),
) -> Composition:
    """Render the edition as subscribers reading `language` (default: the site's) would get it now; trim it
    to its top items if it is too big. Its size counts the click-tracked links whenever `analytics.clicks` is
    on; the HTML and text carry them only with `track` (the real send: a preview's links go direct), numbered
    after `known_links` (another language's rendering of the same edition). Raises RenderError."""
    today = _local_day(config, now or utcnow())
    site = site_view(config, language)
    view = edition_view(config, edition, today, language)
    links = click_tracker(config, edition, signed=track)
    total = sum(len(section.items) for section in view.sections)
    if total <= FIRST_PROBE:
        whole = render_edition(view, site, today)
        size = sent_size(whole, links)
        if size <= SIZE_LIMIT:
            return _finished(whole, size, total, total, [], links if track else None, known_links)
        kept, trimmed = _largest_fitting(view, site, today, links, 1, total - 1)
    else:
        fitting = _probe(view, site, today, links)
        if fitting.kept == total and fitting.best is not None:
            return _finished(fitting.best, fitting.size, total, total, [], links if track else None, known_links)
        kept, trimmed = _largest_fitting(view, site, today, links, fitting.kept + 1, fitting.over - 1, fitting.best)
        size = fitting.over_size * total // fitting.over  # estimated: the whole is never rendered
    warning = (
        f"Trimmed to its top {kept} of {total} items: the whole edition would be {size / 1000:.0f} KB of HTML, "
        f"over the {SIZE_LIMIT / 1000:.0f} KB that keeps Gmail from clipping it. The email ends with a link "
        f"to the archive copy, which has all {total}."
    )
    return _finished(trimmed, size, kept, total, [warning], links if track else None, known_links)


def click_tracker(config: Config, edition: Edition, signed: bool = True) -> LinkTracker | None:
    """How this edition's links are tracked (digest.analytics.links), or None with `analytics.clicks` off.
    Unsigned, the links are only measured: a stand-in key makes tokens of the same length."""
    if not config.analytics.clicks:
        return None
    secret_key = Runtime(config).secret_key if signed else _SIZING_SECRET
    per_delivery = config.analytics.per_subscriber
    return tracker(config.site.base_url, secret_key, edition.id or 0, [archive_url(config, edition)], per_delivery)


def sent_size(rendered: RenderedEdition, links: LinkTracker | None) -> int:
    """Bytes of the HTML part as subscribers get it, tracked links and all."""
    if links is None:
        return email_size(rendered.html)
    tracked = links.track(rendered.html, "").html
    return email_size(tracked.replace(DELIVERY_MARKER, _SIZING_DELIVERY_TAG))


def _finished(
    rendered: RenderedEdition,
    size: int,
    kept: int,
    total: int,
    warnings: list[str],
    links: LinkTracker | None,
    known_links: tuple[str, ...] = (),
) -> Composition:
    if links is None:
        return Composition(rendered.html, rendered.text, size, kept, total, warnings)
    tracked = links.track(rendered.html, rendered.text, known_links)
    return Composition(tracked.html, tracked.text, size, kept, total, warnings, tracked.urls)


FIRST_PROBE = 64  # items: an edition larger than this is rendered in growing prefixes, never whole first


@dataclass
class _Probe:
    kept: int = 0  # the largest prefix known to fit
    best: RenderedEdition | None = None
    html: str = ""
    text: str = ""
    size: int = 0
    over: int = 0  # the smallest prefix known not to fit (0: none yet)
    over_size: int = 0


def _probe(view: EditionView, site: SiteView, today: date, links: LinkTracker | None) -> _Probe:
    """Render the top 64, 128, 256… items until a prefix does not fit or all of them do, so an edition of
    10,000 items costs renderings of about twice what fits, not of all 10,000."""
    ranked = _ranked(view)
    found = _Probe()
    count = FIRST_PROBE
    while True:
        count = min(count, len(ranked))
        rendered = render_edition(_keeping(view, set(ranked[:count])), site, today)
        size = sent_size(rendered, links)
        if size > SIZE_LIMIT:
            found.over, found.over_size = count, size
            return found
        found.kept, found.best, found.html, found.text, found.size = count, rendered, rendered.html, rendered.text, size
        if count == len(ranked):
            return found
        count *= 2


def _local_day(config: Config, now: datetime) -> date:
    return now.astimezone(ZoneInfo(config.site.timezone)).date()


def public_copy(config: Config, edition: Edition, on_day: date) -> RenderedEdition:
    """The edition as the archive shows it: whole, for the public audience (nobody's name or links)."""
    return render_edition(edition_view(config, edition, on_day), site_view(config), on_day, audience="public")


def _largest_fitting(
    view: EditionView,
    site: SiteView,
    today: date,
    links: LinkTracker | None,
    low: int,
    high: int,
    best: RenderedEdition | None = None,
) -> tuple[int, RenderedEdition]:
    """The most top items that fit, between `low` and `high` (binary search: rendering is the costly step);
    `best` is what fits with `low - 1` items, when known."""
    ranked = _ranked(view)
    found: tuple[int, RenderedEdition] | None = (low - 1, best) if best is not None else None
    while low <= high:
        middle = (low + high) // 2
        rendered = render_edition(_keeping(view, set(ranked[:middle])), site, today)
        if sent_size(rendered, links) <= SIZE_LIMIT:
            found, low = (middle, rendered), middle + 1
        else:
            high = middle - 1
    if found is None:
        raise RenderError(f"even a single item makes the email larger than {SIZE_LIMIT / 1000:.0f} KB")
    return found


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


def freeze(
    config: Config,
    edition: Edition,
    now: datetime | None = None,
    public: bool = True,
    languages: Iterable[str | None] = (),
) -> None:
    """Apply the send-time rules and render once per language: every recipient gets exactly this HTML and
    text, in the site's language (Edition.html/text) or in one of `languages` (the recipients' own, as
    stored: each shipped one other than the site's is rendered once, into edition_renderings).

    The public copy for the archive is rendered too, and the links are click-tracked (their numbers kept
    in edition_links), unless `public` is False: a preview or a test copy, which is rolled back, has no use
    for the public copy (it would double its rendering time) and its links go direct, since the link rows a
    tracked link names would be rolled back with it."""
    now = now or utcnow()
    notes = _drop_what_lapsed(edition, now)
    refresh_generated_texts(edition)  # what is left out is not counted in the preview line
    if not edition.entries:
        raise EditionError(f"edition {edition.id} has nothing left to send: {' '.join(notes)}")
    others = sorted({language_for(code, config.site.language) for code in languages} - {site_language(config)})
    try:
        composed = compose(config, edition, now, track=public)
        links, warnings, renderings = composed.links, list(composed.warnings), []
        for language in others:  # numbered after the links before them: one numbering per edition
            translated = compose(config, edition, now, track=public, language=language, known_links=links)
            links, warnings = translated.links or links, [*warnings, *translated.warnings]
            renderings.append(EditionRendering(language=language, html=translated.html, text=translated.text))
        archive_html = public_copy(config, edition, _local_day(config, now)).html if public else None
    except RenderError as error:
        edition.last_error = f"not sent: {error}"
        raise EditionRenderError(f"edition {edition.id} was not sent: {error}") from error
    edition.html, edition.text, edition.archive_html = composed.html, composed.text, archive_html
    session = object_session(edition)
    if public and session is not None:
        _keep_renderings(session, edition, renderings)
    if public and config.analytics.clicks and session is not None:
        store_links(session, edition.id, links)
    add_warnings(edition, [*notes, *warnings])
    edition.last_error = None


def _keep_renderings(session: Session, edition: Edition, renderings: list[EditionRendering]) -> None:
    session.execute(delete(EditionRendering).where(EditionRendering.edition_id == edition.id))
    for rendering in renderings:
        rendering.edition_id = edition.id
        session.add(rendering)


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
    """Leave out what the send confirmation said would be left out (core.left_out_at_send, the one rule);
    a lapsed call or event is marked expired."""
    session = object_session(edition)
    if session is None:
        raise EditionError(f"edition {edition.id} is not in a session: what it leaves out cannot be checked")
    left_out = left_out_at_send(session, edition, now)
    out = [left_out[entry.item_id] for entry in edition.entries if entry.item_id in left_out]  # in reading order
    edition.entries = [entry for entry in edition.entries if entry.item_id not in left_out]
    expired = [found.item for found in out if found.reason == "lapsed"]
    for item in expired:
        item.status = "expired"
    return left_out_notes(
        ("Left out at send time, deadline passed or ended (marked expired)", expired),
        ("Left out at send time, another edition has sent it since", [o.item for o in out if o.reason != "lapsed"]),
    )
