"""Commands for editions: create (the weekly digest or a newsletter), inspect, preview, schedule,
send and cancel."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from digest.cli.common import fail, json_option, parse_ids, print_json, print_table, with_runtime
from digest.delivery.message import site_links
from digest.delivery.worker import send_test, start_sending
from digest.editions.assembly import assemble_digest
from digest.editions.compose import EditionRenderError, check_rendering, freeze, record_failure
from digest.editions.core import default_sections, delivery_counts, get_edition, list_editions
from digest.editions.lifecycle import cancel, schedule
from digest.editions.newsletter import create_newsletter
from digest.items.queue import get_items
from digest.models import Edition, utcnow
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
@with_runtime()
def edition_create(
    runtime: Runtime,
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
    timezone = runtime.config.site.timezone
    with runtime.sessions() as session, session.begin():
        if edition_type == "digest":
            assembly = assemble_digest(session, timezone, title=title)
            made, message = assembly.edition, assembly.message
        else:
            made = create_newsletter(
                session,
                timezone,
                title=title,
                sections=_sections(session, item_ids, chosen_sections),
                intro=intro_file.read_text(encoding="utf-8") if intro_file else "",
                subject=subject,
                preheader=preheader,
            )
            message = f"created newsletter {made.id}"
        if made is not None:
            check_rendering(runtime.config, made)
            row = _row(session, made)
    if made is None:  # the transaction is committed: calls and events that lapsed stay expired
        fail(message)
    if as_json:
        print_json(row)
        return
    click.echo(f"{message}: “{row['title']}”, {len(row['items'])} items")
    _echo_warnings(row["warnings"])


def _sections(session: Session, item_ids: str | None, chosen: tuple[str, ...]) -> list[tuple[str, list[int]]] | None:
    """The newsletter's sections from --items (each in its kind's section, order kept) and --section."""
    sections: list[tuple[str, list[int]]] = []
    if item_ids:
        items = get_items(session, parse_ids((item_ids,)))
        by_kind = default_sections(items, utcnow(), sort=False)
        sections += [(title, [item.id for item in members]) for title, members in by_kind]
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
@json_option
@with_runtime()
def edition_list(runtime: Runtime, as_json: bool) -> None:
    """List editions, newest first."""
    with runtime.sessions() as session:
        editions = list_editions(session)
        counts = delivery_counts(session, [e.id for e in editions])
        rows = [edition_json(e, counts[e.id]) for e in editions]
    if as_json:
        print_json(rows)
        return
    print_table(
        [
            [r["id"], r["type"], r["status"], len(r["items"]), r["counts"]["sent"], r["counts"]["queued"], r["title"]]
            for r in rows
        ],
        ["ID", "TYPE", "STATUS", "ITEMS", "SENT", "QUEUED", "TITLE"],
    )


@edition.command("show")
@click.argument("edition_id", type=int)
@json_option
@with_runtime()
def edition_show(runtime: Runtime, edition_id: int, as_json: bool) -> None:
    """Show one edition with its sections, warnings and delivery progress."""
    with runtime.sessions() as session:
        found = get_edition(session, edition_id)
        row = _row(session, found)
        titles = {entry.item_id: entry.item.title for entry in found.entries}
    if as_json:
        print_json(row)
        return
    click.echo(f"{row['title']}  [{row['type']}, {row['status']}]  /archive/{row['slug']}")
    click.echo(f"subject: {row['subject']}")
    click.echo(f"preheader: {row['preheader']}")
    if row["window_end"]:
        click.echo(f"window: {row['window_start'] or 'the beginning'} → {row['window_end']}")
    for section in row["sections"]:
        click.echo(f"\n{section['title']}")
        for item_id in section["items"]:
            click.echo(f"  {item_id:>5}  {titles[item_id]}")
    counts = row["counts"]
    click.echo(f"\ndeliveries: {', '.join(f'{status} {number}' for status, number in counts.items())}")
    for warning in row["warnings"]:
        click.echo(f"warning: {warning}")
    if row["last_error"]:
        click.echo(f"last error: {row['last_error']}")


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
            freeze(runtime.config, found, None)  # the send-time rules and trimming, then rolled back
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


@edition.command("schedule")
@click.argument("edition_id", type=int)
@click.option("--at", "at", required=True, help="ISO 8601 time with its offset, e.g. 2026-11-30T09:00:00+01:00")
@with_runtime()
def edition_schedule(runtime: Runtime, edition_id: int, at: str) -> None:
    """Send the edition at a given time (the scheduler, `digest scheduler` or `digest run`, releases it)."""
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not an ISO 8601 time (e.g. 2026-11-30T09:00:00+01:00)") from None
    with runtime.sessions() as session, session.begin():
        schedule(session, edition_id, when)
    click.echo(f"edition {edition_id} scheduled for {when.isoformat()}")


@edition.command("send")
@click.argument("edition_id", type=int)
@click.option("--test", "test_address", default=None, help="Send one test copy to this address instead.")
@with_runtime()
def edition_send(runtime: Runtime, edition_id: int, test_address: str | None) -> None:
    """Queue the edition for every active subscriber (the worker delivers it)."""
    if test_address:
        send_test(runtime, edition_id, test_address)
        click.echo(f"sent a test of edition {edition_id} to {test_address}")
        return
    try:
        with runtime.sessions() as session, session.begin():
            queued = start_sending(session, runtime.config, edition_id)
            warnings = list(get_edition(session, edition_id).warnings or [])
    except EditionRenderError as error:
        with runtime.sessions() as session, session.begin():  # the failed transaction was rolled back
            record_failure(session, edition_id, str(error))
        raise
    click.echo(f"edition {edition_id}: {queued} deliveries queued — `digest worker --drain` sends them")
    _echo_warnings(warnings)


@edition.command("cancel")
@click.argument("edition_id", type=int)
@with_runtime()
def edition_cancel(runtime: Runtime, edition_id: int) -> None:
    """Cancel a draft or scheduled edition."""
    with runtime.sessions() as session, session.begin():
        cancel(session, edition_id)
    click.echo(f"edition {edition_id} cancelled")
