"""The email rendering stage: plain view data in, HTML and text parts out.

Pipeline: Jinja2 (``templates/email/edition.mjml.j2``) → MJML → ``mjml2html`` (MRML, no fonts
fetched) → premailer (CSS inlined, ``<style>`` tags and their ``@media`` rules kept, nothing
fetched) → a few fix-ups (doctype, ``role="presentation"`` on every table, ``lang``, colour-scheme
meta tags). The text part comes from its own template, ``templates/email/edition.txt.j2``.

The output is rendered once per edition and language (``SiteView.language``: the words of the chrome
through the gettext catalogs of ``digest.rendering.i18n``, the dates through ``dates``; the items and
the editors' own texts stay as written); per-recipient values are left as the markers in
``PLACEHOLDERS`` and filled in by :func:`personalise`.

This module is a pure stage: it imports nothing from the project but its pure helpers
(``dates``, ``fragments``, ``i18n``, ``placeholders``, ``sanitise``, ``text``, ``mjml_errors`` of
``digest.rendering``).
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import textwrap
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from types import TracebackType

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from mjml import mjml2html
from premailer import Premailer

from digest.rendering import dates, mjml_errors
from digest.rendering.fragments import email_summary, split_last_paragraph
from digest.rendering.i18n import language_for, translations
from digest.rendering.placeholders import MARKER_RE, PLACEHOLDERS
from digest.rendering.sanitise import absolute_link, email_fragment
from digest.rendering.text import html_paragraphs

__all__ = [
    "AUDIENCES",
    "DEFAULT_TEMPLATES_DIR",
    "ITEM_KINDS",
    "PLACEHOLDERS",
    "SECTION_LAYOUTS",
    "EditionView",
    "ItemView",
    "RenderError",
    "RenderedEdition",
    "SectionView",
    "SiteView",
    "personalise",
    "render_edition",
]

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

ITEM_KINDS = ("news", "event", "call", "achievement")
# "subscriber": the email, with per-recipient markers; "public": the archive copy, nobody's links in it.
AUDIENCES = ("subscriber", "public")

TEXT_WIDTH = 72
# Zero-width groups ("&#847;&zwnj;&nbsp;") after the preheader: enough to fill an inbox's preview line,
# so it shows the preheader and then nothing, not the first words of the email.
PREHEADER_FILLER = 100
URGENT_DAYS = 7  # a call closing within a week gets the warm "days left" badge


# --------------------------------------------------------------------------- public data


@dataclass(frozen=True)
class ItemView:
    kind: str  # "news" | "event" | "call" | "achievement"
    title: str  # plain text
    summary_html: str  # already-sanitised HTML fragment
    url: str | None  # absolute
    image_url: str | None
    organisation: str | None
    country: str | None
    published_at: datetime | None  # aware, UTC
    starts_at: datetime | None  # aware UTC (events)
    ends_at: datetime | None
    location: str | None
    timezone: str | None  # IANA name of the event's or the deadline's zone; None -> site timezone
    deadline: datetime | None  # aware UTC (calls)
    featured: bool = False
    all_day: bool = False  # the source gave dates only: an event's days, a call's last day
    calendar_url: str | None = None  # absolute link to the per-event .ics


SECTION_LAYOUTS = ("cards", "list")  # full cards, or the seeds' one-line rows (title, date or deadline, who, link)


@dataclass(frozen=True)
class SectionView:
    title: str
    items: tuple[ItemView, ...]
    layout: str = "cards"  # one of SECTION_LAYOUTS
    anchor: str = ""  # the id "In this issue" links to (letters, digits and '-'); empty: made from the position


@dataclass(frozen=True)
class EditionView:
    title: str
    subject: str
    preheader: str
    sections: tuple[SectionView, ...]
    archive_url: str  # "view in browser" link
    intro_html: str = ""  # sanitised HTML (editorial introduction), may be empty
    sent_on: date | None = None  # the edition's date, shown in the header
    more_count: int = 0  # items left out to keep the email small; the archive copy has them


@dataclass(frozen=True)
class SiteView:
    name: str
    base_url: str
    timezone: str  # IANA name, e.g. "Europe/Brussels"
    language: str  # the rendering's language, e.g. "fr" (one without a catalog gets the English words)
    contact_address: str  # postal/contact line for the footer


@dataclass(frozen=True)
class RenderedEdition:
    html: str
    text: str


class RenderError(Exception):
    """Rendering failed; the message names the template file and line when it can be found
    (for MJML errors, from the first unbalanced tag), then what went wrong."""


class PersonalPlaceholderError(ValueError):
    """A template used a per-recipient placeholder where the public audience would see it."""


class _NoPlaceholders:
    """``placeholders`` as the public audience's templates see it: using one is an error, not a leak."""

    def __getattr__(self, key: str) -> str:
        raise PersonalPlaceholderError(f"placeholders.{key} outside a subscriber block: the public copy has none")

    __getitem__ = __getattr__


# --------------------------------------------------------------------------- template context


@dataclass(frozen=True)
class _Entry:
    """One item as the templates see it: the view plus everything derived from it."""

    item: ItemView
    url: str | None
    image_url: str | None
    calendar_url: str | None
    published: str | None  # "8 Dec 2026" in the site's zone
    when: str | None  # events: "Tue 8 Dec 2026, 09:00–17:00 CET"
    deadline: str | None  # calls: "15 Dec 2026" (+ ", 17:00 CET" when the hour matters)
    deadline_status: str | None  # "12 days left" | "1 day left" | "Closes today" | "Closed"
    days_left: int | None
    closed: bool
    summary_lead: str  # the email-safe summary (whole when short, else a teaser) but its last paragraph
    summary_end: str | None  # that last paragraph's inner HTML, for "Read more" to follow; None: none
    summary_text: str  # the same for the text part, every link spelled out
    origin: str  # "Organisation · Country"
    divider: bool  # draw a rule above this item


@dataclass(frozen=True)
class _Section:
    title: str
    entries: tuple[_Entry, ...]
    layout: str
    anchor: str


# --------------------------------------------------------------------------- helpers


def _dateline(title: str, day: date, lang: str) -> str:
    """The edition's date under its title, unless the title already says it (in English or in `lang`)."""
    if f"{day.day} {dates.MONTHS_LONG[day.month - 1]} {day.year}" in title:
        return ""
    long = dates.long_day(day, lang)
    return "" if long.split(" ", 1)[-1] in title else long


def wrap_text(text: str, width: int = TEXT_WIDTH, indent: str = "", first: str | None = None) -> str:
    """Wrap each paragraph (blank-line separated) at ``width`` columns, every line indented by
    ``indent`` (the first line of each paragraph by ``first`` if given). URLs are never broken."""
    return "\n\n".join(
        textwrap.fill(
            paragraph,
            width=width,
            initial_indent=indent if first is None else first,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for paragraph in str(text).split("\n\n")
        if paragraph.strip()
    )


def _absolute_url(url: str | None, base_url: str) -> str | None:
    """An absolute http(s) URL, or None: relative URLs are joined to the site, other schemes dropped."""
    link = absolute_link(url, base_url)
    return None if link is None or link.lower().startswith("mailto:") else link


def _origin(item: ItemView) -> str:
    return " · ".join(part for part in (item.organisation, item.country) if part)


def _entries(items: tuple[ItemView, ...], site: SiteView, site_zone: tzinfo, today: date) -> tuple[_Entry, ...]:
    lang = language_for(site.language)
    entries: list[_Entry] = []
    previous: ItemView | None = None
    for item in items:
        if item.kind not in ITEM_KINDS:
            raise RenderError(f"item {item.title!r}: unknown kind {item.kind!r} (expected one of {ITEM_KINDS})")
        own_zone = dates.zone(item.timezone, site_zone)
        when = None
        if item.kind == "event" and item.starts_at is not None:
            when = dates.event_when(item.starts_at, item.ends_at, own_zone, site_zone, all_day=item.all_day, lang=lang)
        deadline = status = None
        days_left = None
        if item.deadline is not None:
            deadline = dates.deadline_label(item.deadline, own_zone, site_zone, whole_day=item.all_day, lang=lang)
            days_left = (dates.aware(item.deadline).astimezone(own_zone).date() - today).days
            status = dates.deadline_status(days_left, lang)
        summary_html, summary_text = email_summary(item.summary_html, site.base_url)
        summary_lead, summary_end = split_last_paragraph(summary_html)
        published = None
        if item.published_at is not None:
            published = dates.day(dates.aware(item.published_at).astimezone(site_zone).date(), lang=lang)
        entries.append(
            _Entry(
                item=item,
                url=_absolute_url(item.url, site.base_url),
                image_url=_absolute_url(item.image_url, site.base_url),
                calendar_url=_absolute_url(item.calendar_url, site.base_url),
                published=published,
                when=when,
                deadline=deadline,
                deadline_status=status,
                days_left=days_left,
                closed=days_left is not None and days_left < 0,
                summary_lead=summary_lead,
                summary_end=summary_end,
                summary_text=summary_text,
                origin=_origin(item),
                divider=previous is not None and item.featured == previous.featured,
            )
        )
        previous = item
    return tuple(entries)


def _layout(section: SectionView) -> str:
    if section.layout not in SECTION_LAYOUTS:
        raise RenderError(f"section {section.title!r}: unknown layout {section.layout!r} (one of {SECTION_LAYOUTS})")
    return section.layout


_ANCHOR_UNSAFE_RE = re.compile(r"[^A-Za-z0-9-]")


def _anchor(anchor: str, number: int) -> str:
    """An id safe in any attribute and URL fragment (the key comes from editors' titles)."""
    return _ANCHOR_UNSAFE_RE.sub("-", anchor)[:60] or f"section-{number}"


# --------------------------------------------------------------------------- Jinja environment

_environments: dict[tuple[Path, str], Environment] = {}
_environments_lock = threading.Lock()


def _environment(templates_dir: Path, language: str) -> Environment:
    """One environment per templates folder and language: gettext is installed on the environment, and
    renderings in several languages may run at once (the web app's previews, a send)."""
    with _environments_lock:
        env = _environments.get((templates_dir, language))
        if env is None:
            env = Environment(
                loader=FileSystemLoader(str(templates_dir)),
                extensions=["jinja2.ext.i18n"],
                undefined=StrictUndefined,
                autoescape=select_autoescape(
                    enabled_extensions=("mjml.j2", "html.j2"),
                    disabled_extensions=("txt.j2",),
                    default_for_string=True,
                    default=True,
                ),
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
                auto_reload=True,
            )
            env.filters["wrap"] = wrap_text
            env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
            _environments[(templates_dir, language)] = env
        return env


def _template_location(exc: BaseException, templates_dir: Path) -> tuple[str, int | None] | None:
    """The innermost template frame of a rendering exception: (template name, line)."""
    if isinstance(exc, TemplateSyntaxError) and exc.name:
        return exc.name, exc.lineno
    found: tuple[str, int | None] | None = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        try:
            relative = Path(filename).resolve().relative_to(templates_dir)
        except (ValueError, OSError):
            relative = None
        if relative is not None:
            found = (relative.as_posix(), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _render_template(env: Environment, name: str, templates_dir: Path, context: dict[str, object]) -> str:
    try:
        return env.get_template(name).render(context)
    except RenderError:
        raise
    except Exception as exc:
        location = _template_location(exc, templates_dir)
        if location is None:
            where = f"{templates_dir.name}/{name}"
        else:
            template, line = location
            where = f"{templates_dir.name}/{template}" + (f" line {line}" if line else "")
        if isinstance(exc, TemplateSyntaxError):
            detail = exc.message or str(exc)
        elif isinstance(exc, TemplateNotFound):
            detail = f"template not found: {exc.name}"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        raise RenderError(f"{where}: {detail}") from exc


# --------------------------------------------------------------------------- HTML post-processing

_COLOR_SCHEME_META = (
    '<meta name="color-scheme" content="light dark"><meta name="supported-color-schemes" content="light dark">'
)
_TABLE_WITHOUT_ROLE_RE = re.compile(r"<table\b(?![^>]*\brole\s*=)", re.I)
_HTML_TAG_RE = re.compile(r"<html\b[^>]*>", re.I)


def _mjml_to_html(mjml_source: str, templates_dir: Path) -> str:
    try:
        return mjml2html(mjml_source, fonts={}, disable_comments=True)
    except Exception as exc:
        raise RenderError(mjml_errors.describe(exc, mjml_source, templates_dir)) from exc


_INLINE_MARKER = "digest:inline"
_STYLE_RE = re.compile(r"<style\b([^>]*)>(.*?)</style>", re.I | re.S)


def _mark_styles(document: str) -> str:
    """Like MJML's own inliner, inline only the ``<mj-style inline="inline">`` block (recognised by
    its marker comment); MRML's reset styles, the media queries and the dark-mode rules stay in
    ``<head>`` without being copied onto every cell."""

    def mark(match: re.Match[str]) -> str:
        attributes, css = match.group(1), match.group(2)
        if _INLINE_MARKER in css or "data-premailer" in attributes:
            return match.group(0)
        return f'<style{attributes} data-premailer="ignore">{css}</style>'

    if _INLINE_MARKER not in document:  # templates without the marker: let premailer inline everything
        return document
    return _STYLE_RE.sub(mark, document)


def _inline_css(document: str) -> str:
    premailer = Premailer(
        document,
        base_url=None,  # never join or fetch anything
        allow_network=False,
        allow_loading_external_files=False,
        disable_link_rewrites=True,
        keep_style_tags=True,  # @media rules (responsive, prefers-color-scheme) stay in <style>
        strip_important=False,
        remove_classes=False,  # the dark-mode rules target classes
        disable_validation=True,
        disable_basic_attributes=["width", "height"],  # keep MRML's pixel widths (Outlook needs them)
        cssutils_logging_level=logging.CRITICAL,  # (no handler argument: premailer would add one per call)
        exclude_pseudoclasses=True,
        method="html",
    )
    try:
        return premailer.transform(pretty_print=False)
    except Exception as exc:
        raise RenderError(f"premailer: {exc}") from exc


def _tidy_styles(document: str) -> str:
    """Drop the block premailer has just inlined (its rules are on the elements now) and squeeze the
    whitespace out of the rest: every byte counts towards Gmail's clipping limit."""

    def tidy(match: re.Match[str]) -> str:
        attributes, css = match.group(1), match.group(2)
        if _INLINE_MARKER in css:
            return ""
        return f"<style{attributes}>{_CSS_SPACE_RE.sub(' ', css).strip()}</style>"

    return _STYLE_RE.sub(tidy, document)


_CSS_SPACE_RE = re.compile(r"\s+")


def _finish_html(document: str, language: str) -> str:
    if "<head" in document and 'name="color-scheme"' not in document:
        document = document.replace("</head>", _COLOR_SCHEME_META + "</head>", 1)
    document = _TABLE_WITHOUT_ROLE_RE.sub('<table role="presentation"', document)
    document = document.replace(' data-premailer="ignore"', "")  # left on tags premailer skipped
    tag = _HTML_TAG_RE.search(document)
    if tag is not None and not re.search(r"\blang\s*=", tag.group(0)):
        lang = html_lib.escape(language, quote=True)
        document = document[: tag.start()] + f'<html lang="{lang}"' + document[tag.start() + 5 :]
    if not document.lstrip().lower().startswith("<!doctype"):
        document = "<!doctype html>\n" + document
    return document


def _finish_text(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


# --------------------------------------------------------------------------- public functions


def render_edition(
    edition: EditionView,
    site: SiteView,
    today: date,
    templates_dir: Path | None = None,
    audience: str = "subscriber",
) -> RenderedEdition:
    """Render an edition once: the HTML part (inlined CSS) and the text part. For subscribers they
    carry the per-recipient placeholders; for the public (the archive) nothing personal at all."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, not {audience!r}")
    templates_dir = (templates_dir or DEFAULT_TEMPLATES_DIR).resolve()
    if not templates_dir.is_dir():
        raise RenderError(f"templates directory not found: {templates_dir}")
    site_zone = dates.zone(site.timezone, UTC)
    lang = language_for(site.language)
    sections = tuple(
        _Section(
            title=section.title,
            entries=_entries(section.items, site, site_zone, today),
            layout=_layout(section),
            anchor=_anchor(section.anchor, number),
        )
        for number, section in enumerate(edition.sections, start=1)
    )
    archive_url = _absolute_url(edition.archive_url, site.base_url) or site.base_url
    edition_day = edition.sent_on or today
    intro_html = email_fragment(edition.intro_html, site.base_url)
    context: dict[str, object] = {
        "edition": edition,
        "site": site,
        "lang": lang,
        "today": today,
        "sections": sections,
        "item_count": sum(len(section.entries) for section in sections),
        "archive_url": archive_url,
        "home_url": _absolute_url(site.base_url, site.base_url) or archive_url,
        "edition_date": dates.long_day(edition_day, lang),
        "dateline": _dateline(edition.title, edition_day, lang),
        "urgent_days": URGENT_DAYS,
        "preheader_filler": PREHEADER_FILLER,
        "intro_html": intro_html,
        "intro_paragraphs": html_paragraphs(intro_html, links=True, bullets=True),
        "more_count": edition.more_count,
        "audience": audience,
        "placeholders": PLACEHOLDERS if audience == "subscriber" else _NoPlaceholders(),
        "subscribe_url": f"{site.base_url.rstrip('/')}/subscribe",
    }
    env = _environment(templates_dir, lang)
    mjml_source = _render_template(env, "email/edition.mjml.j2", templates_dir, context)
    compiled = _mjml_to_html(mjml_source, templates_dir)
    html = _finish_html(_tidy_styles(_inline_css(_mark_styles(compiled))), lang)
    text = _finish_text(_render_template(env, "email/edition.txt.j2", templates_dir, context))
    if audience == "public" and (MARKER_RE.search(html) or MARKER_RE.search(text)):
        raise RenderError("the public copy carries a per-recipient placeholder; keep them in subscriber blocks")
    return RenderedEdition(html=html, text=text)


def personalise(rendered: str, values: Mapping[str, str]) -> str:
    """Replace every placeholder marker with its value (values are inserted verbatim: escape for HTML
    before calling for the HTML part). Every key of ``PLACEHOLDERS`` must be given."""
    missing = sorted(key for key in PLACEHOLDERS if key not in values)
    if missing:
        raise ValueError(f"personalise: missing value(s) for {', '.join(missing)}")
    for key in PLACEHOLDERS:
        if not isinstance(values[key], str):
            raise ValueError(f"personalise: value for {key!r} must be a str, not {type(values[key]).__name__}")

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        return values[key] if key in PLACEHOLDERS else match.group(0)

    return MARKER_RE.sub(substitute, rendered)
