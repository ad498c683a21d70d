"""Commands for editions: create (the weekly digest or a newsletter) or duplicate, inspect, preview,
schedule or unschedule, hold back from automatic sending or release, send, cancel, and resume one paused
after failures; list, rename, move and lay out an edition's sections (`digest edition section …`). Each
action is one function of digest.editions.lifecycle, arrange or digest.delivery, which writes the audit line."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from digest.analytics.clicks import edition_clicks
from digest.audit import Actor
from digest.cli.common import edition_step, fail, json_option, listing, parse_ids, print_json, with_runtime
from digest.delivery.ledger import resume_edition
from digest.delivery.message import site_links
from digest.delivery.sending import send_now, send_test
from digest.editions.arrange import rename_section, sections_of, set_section_layout, step_section
from digest.editions.compose import freeze
from digest.editions.core import delivery_counts, get_edition, list_editions
from digest.editions.lifecycle import (
    cancel,
    create_edition,
    duplicate,
    hold,
    release,
    restore,
    schedule,
    unschedule,
)
from digest.editions.newsletter import kind_sections
from digest.models import SECTION_LAYOUTS, Edition
from digest.rendering import dates
from digest.rendering.render import personalise
from digest.runtime import Runtime
from digest.serialize import edition_json, iso

PREVIEW_UID = "preview"  # the links of a preview are signed for nobody


@click.group()
def edition() -> None:
    """Newsletters and weekly digests."""


@edition.command("create")
@click.option("--type", "edition_type", type=click.Choice(["digest", "newsletter"]), required=True)
@click.option("--title", default=None, help="Title and subject (default: the type and today's date).")
@click.option(
    "--items", "item_ids", default=None, help="Newsletter: these item ids (e.g. 4,9,12), in their kinds' sections."
)
@click.option(
    "--section",
    "chosen_sections",
    multiple=True,
    metavar="TITLE=IDS",
    help='Newsletter: a section and its items in order, e.g. --section "Spotlight=4,9"; repeat for more.',
)
@click.option(
    "--intro-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Newsletter: a Markdown introduction.",
)
@click.option("--subject", default=None, help="Newsletter: the subject line (default: the title).")
@click.option("--preheader", default=None, help="Newsletter: the preview text mail clients show.")
@json_option
@with_runtime(acts=True)
def edition_create(
    runtime: Runtime,
    actor: Actor,
    edition_type: str,
    title: str | None,
    item_ids: str | None,
    chosen_sections: tuple[str, ...],
    intro_file: Path | None,
    subject: str | None,
    preheader: str | None,
    as_json: bool,
) -> None:
    """Assemble this week's digest (the window since the last digest sent), or make a newsletter
    (by default of every approved item not sent yet)."""
    newsletter_options = item_ids or chosen_sections or intro_file or subject or preheader
    if edition_type == "digest" and newsletter_options:
        raise click.UsageError("--items, --section, --intro-file, --subject and --preheader are for newsletters")
    with runtime.sessions() as session, session.begin():
        options = {"title": title}
        if edition_type == "newsletter":
            options |= {
                "sections": _sections(session, item_ids, chosen_sections),
                "intro": intro_file.read_text(encoding="utf-8") if intro_file else "",
                "subject": subject,
                "preheader": preheader,
            }
        made = create_edition(session, runtime.config, actor, edition_type, **options)
        row = _row(session, made.edition) if made.edition is not None else None
    if row is None:  # the transaction is committed: calls and events that lapsed stay expired
        fail(made.message)
    _print_edition(row, made.message, as_json)


def _print_edition(row: dict[str, Any], message: str, as_json: bool) -> None:
    if as_json:
        print_json(row)
        return
    click.echo(f"{message}: “{row['title']}”, {len(row['items'])} items")
    _echo_warnings(row["warnings"])


def _sections(session: Session, item_ids: str | None, chosen: tuple[str, ...]) -> list[tuple[str, list[int]]] | None:
    """The newsletter's sections from --items (each in its kind's section, order kept) and --section."""
    sections: list[tuple[str, list[int]]] = []
    if item_ids:
        sections += kind_sections(session, parse_ids((item_ids,)))
    for choice in chosen:
        title, separator, ids = choice.partition("=")
        if not separator:
            raise click.BadParameter(f'{choice!r}: write TITLE=IDS, e.g. "Spotlight=4,9"', param_hint="--section")
        sections.append((title, parse_ids((ids,))))
    return sections or None


def _row(session: Session, found: Edition) -> dict[str, Any]:
    row = edition_json(found, delivery_counts(session, [found.id])[found.id])
    return row | {
        "intro": found.intro,
        "window_start": iso(found.window_start),
        "window_end": iso(found.window_end),
        "warnings": list(found.warnings or []),
        "last_error": found.last_error,
    }


def _echo_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@edition.command("list")
@listing(
    ["ID", "TYPE", "STATUS", "ITEMS", "SENT", "QUEUED", "TITLE"],
    lambda r: [
        r["id"],
        r["type"],
        r["status"],
        len(r["items"]),
        r["counts"]["sent"],
        r["counts"]["queued"],
        r["title"],
    ],
)
@with_runtime()
def edition_list(runtime: Runtime) -> list[dict[str, Any]]:
    """List editions, newest first."""
    with runtime.sessions() as session:
        editions = list_editions(session)
        counts = delivery_counts(session, [e.id for e in editions])
        return [edition_json(e, counts[e.id]) for e in editions]


@edition.command("show")
@click.argument("edition_id", type=int)
@json_option
@with_runtime()
def edition_show(runtime: Runtime, edition_id: int, as_json: bool) -> None:
    """Show one edition with its sections, warnings and delivery progress."""
    with runtime.sessions() as session:
        found = get_edition(session, edition_id)
        row = _row(session, found) | {"clicks": edition_clicks(session, found.id)}
        titles = {entry.item_id: entry.item.title for entry in found.entries}
    if as_json:
        print_json(row)
        return
    click.echo(f"{row['title']}  [{row['type']}, {row['status']}]  /archive/{row['slug']}")
    click.echo(f"subject: {row['subject']}")
    click.echo(f"preheader: {row['preheader']}")
    if row["window_end"]:
        click.echo(f"window: {row['window_start'] or 'the beginning'} → {row['window_end']}")
    layouts = {section.title: section.layout for section in sections_of(found)}
    for section in row["sections"]:
        click.echo(f"\n{section['title']}  [{layouts.get(section['title'], 'cards')}]")
        for item_id in section["items"]:
            click.echo(f"  {item_id:>5}  {titles[item_id]}")
    counts = row["counts"]
    click.echo(f"\ndeliveries: {', '.join(f'{status} {number}' for status, number in counts.items())}")
    _echo_clicks(row["clicks"])
    for warning in row["warnings"]:
        click.echo(f"warning: {warning}")
    if row["last_error"]:
        click.echo(f"last error: {row['last_error']}")


def _echo_clicks(clicks: list[dict[str, Any]]) -> None:
    if clicks:
        click.echo("clicks:")
    for link in clicks:
        click.echo(f"  {link['clicks']:>6}  {link['url']}")


@edition.command("preview")
@click.argument("edition_id", type=int)
@click.option("--out", "html_out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--text", "text_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@with_runtime()
def edition_preview(runtime: Runtime, edition_id: int, html_out: Path, text_out: Path | None) -> None:
    """Write the HTML (and text) a subscriber gets; a sent edition shows what was frozen."""
    with runtime.sessions() as session:
        found = get_edition(session, edition_id)
        if found.status in ("draft", "scheduled"):
            freeze(runtime.config, found, None, public=False)  # the send-time rules and trimming, rolled back
        rich, text, warnings = found.html or "", found.text or "", list(found.warnings or [])
        session.rollback()
    links = site_links(runtime.config.site.base_url, runtime.secret_key)
    values = {
        "name": "reader",
        "unsubscribe_url": links.unsubscribe_url(PREVIEW_UID),
        "preferences_url": links.preferences_url(PREVIEW_UID),
    }
    rich = personalise(rich, {key: html.escape(value, quote=True) for key, value in values.items()})
    html_out.write_text(rich, encoding="utf-8")
    click.echo(f"wrote {html_out} ({len(rich.encode()) / 1024:.1f} KB)")
    if text_out:
        text_out.write_text(personalise(text, values), encoding="utf-8")
        click.echo(f"wrote {text_out}")
    _echo_warnings(warnings)


@edition.command("duplicate")
@click.argument("edition_id", type=int)
@json_option
@with_runtime(acts=True)
def edition_duplicate(runtime: Runtime, actor: Actor, edition_id: int, as_json: bool) -> None:
    """Make a new draft from an edition (any, a cancelled one too): same type, texts, sections and items,
    less the items that cannot go out again."""
    with runtime.sessions() as session, session.begin():
        copy = duplicate(session, runtime.config, actor, edition_id)
        row = _row(session, copy)
    _print_edition(row, f"edition {edition_id} copied to draft {row['id']}", as_json)


@edition.command("schedule")
@click.argument("edition_id", type=int)
@click.option("--at", "at", required=True, help="ISO 8601 time with its offset, e.g. 2026-11-30T09:00:00+01:00")
@with_runtime(acts=True)
def edition_schedule(runtime: Runtime, actor: Actor, edition_id: int, at: str) -> None:
    """Send the edition at a given time (the scheduler, `digest scheduler` or `digest run`, releases it)."""
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not an ISO 8601 time (e.g. 2026-11-30T09:00:00+01:00)") from None
    with runtime.sessions() as session, session.begin():
        schedule(session, actor, edition_id, when, timezone=runtime.config.site.timezone)
    click.echo(f"edition {edition_id} scheduled for {dates.local_moment(when, runtime.config.site.timezone)}")


for _name, _step, _done, _summary in (
    ("unschedule", unschedule, "edition {id} is a draft again", "Take a scheduled edition back to a draft."),
    (
        "hold",
        hold,
        "edition {id} held: it will not go out by itself",
        "Hold an edition back from automatic sending (at its time it goes back to the editors as a draft).",
    ),
    (
        "release",
        release,
        "edition {id} released: it goes out at its scheduled time",
        "Let a held edition go out by itself again, at its scheduled time.",
    ),
    ("cancel", cancel, "edition {id} cancelled", "Cancel a draft or scheduled edition."),
    ("restore", restore, "edition {id} is a draft again", "Take a cancelled edition back to a draft."),
    (
        "resume",
        resume_edition,
        "edition {id}: sending resumed — a running worker picks it up",
        "Resume sending an edition paused after failures (fix the cause first).",
    ),
):
    edition.add_command(edition_step(_name, _step, _done, _summary))


@edition.command("send")
@click.argument("edition_id", type=int)
@click.option("--test", "test_address", default=None, help="Send one test copy to this address instead.")
@with_runtime(acts=True)
def edition_send(runtime: Runtime, actor: Actor, edition_id: int, test_address: str | None) -> None:
    """Queue the edition for every active subscriber (the worker delivers it)."""
    if test_address:
        address = send_test(runtime, actor, edition_id, test_address)
        click.echo(f"sent a test of edition {edition_id} to {address}")
        return
    started = send_now(runtime, actor, edition_id)
    click.echo(f"edition {edition_id}: {started.queued} deliveries queued — `digest worker --drain` sends them")
    _echo_warnings(started.warnings)


@edition.group("section")
def section() -> None:
    """An edition's sections: list them, rename one, move one, show one as cards or as a list."""


@section.command("list")
@click.argument("edition_id", type=int)
@json_option
@with_runtime()
def section_list(runtime: Runtime, edition_id: int, as_json: bool) -> None:
    """The edition's sections in reading order: key (what assembly files items by), layout, items, title."""
    with runtime.sessions() as session:
        rows = [
            {"key": s.key, "title": s.title, "layout": s.layout, "items": [e.item_id for e in s.entries]}
            for s in sections_of(get_edition(session, edition_id))
        ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['key']:<16} {row['layout']:<6} {len(row['items']):>4}  {row['title']}")


@section.command("rename")
@click.argument("edition_id", type=int)
@click.argument("title")
@click.argument("new_title")
@with_runtime(acts=True)
def section_rename(runtime: Runtime, actor: Actor, edition_id: int, title: str, new_title: str) -> None:
    """Rename a section; the weekly assembly keeps filing its kind of items into it."""
    with runtime.sessions() as session, session.begin():
        rename_section(session, actor, edition_id, title, new_title)
    click.echo(f"edition {edition_id}: section “{title}” renamed “{' '.join(new_title.split())}”")


@section.command("layout")
@click.argument("edition_id", type=int)
@click.argument("title")
@click.argument("layout", type=click.Choice(SECTION_LAYOUTS))
@with_runtime(acts=True)
def section_layout(runtime: Runtime, actor: Actor, edition_id: int, title: str, layout: str) -> None:
    """Show a section's items as cards or as a compact list (title, date or deadline, who, one link)."""
    with runtime.sessions() as session, session.begin():
        changed = set_section_layout(session, actor, edition_id, title, layout)
    click.echo(f"edition {edition_id}: “{title}” " + (f"is shown as {layout}" if changed else f"was already {layout}"))


@section.command("move")
@click.argument("edition_id", type=int)
@click.argument("title")
@click.argument("direction", type=click.Choice(["up", "down"]))
@with_runtime(acts=True)
def section_move(runtime: Runtime, actor: Actor, edition_id: int, title: str, direction: str) -> None:
    """Move a section one place up or down."""
    with runtime.sessions() as session, session.begin():
        step_section(session, actor, edition_id, title, direction)
    click.echo(f"edition {edition_id}: “{title}” moved {direction}")
