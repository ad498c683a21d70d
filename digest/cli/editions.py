"""Commands for editions: create, inspect, preview, schedule, send and cancel."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from digest.cli.common import json_option, print_json, print_table, with_runtime
from digest.compose import render
from digest.delivery import send_test, start_sending
from digest.editions import cancel, create_edition, delivery_counts, get_edition, list_editions, schedule
from digest.runtime import Runtime
from digest.serialize import edition_json


@click.group()
def edition() -> None:
    """Newsletters and weekly digests."""


@edition.command("create")
@click.option("--type", "edition_type", type=click.Choice(["digest", "newsletter"]), required=True)
@click.option("--title", default=None, help="Title and subject (default: the type and today's date).")
@json_option
@with_runtime()
def edition_create(runtime: Runtime, edition_type: str, title: str | None, as_json: bool) -> None:
    """Create a draft edition from the approved items no edition has sent yet."""
    with runtime.sessions() as session, session.begin():
        created = create_edition(session, edition_type, runtime.config.site.timezone, title)
        row = edition_json(created, delivery_counts(session, [created.id])[created.id])
    if as_json:
        print_json(row)
        return
    click.echo(f"created {edition_type} {row['id']} “{row['title']}” with {len(row['items'])} items")


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
    """Show one edition with its sections and delivery progress."""
    with runtime.sessions() as session:
        found = get_edition(session, edition_id)
        row = edition_json(found, delivery_counts(session, [edition_id])[edition_id])
        titles = {entry.item_id: entry.item.title for entry in found.entries}
    if as_json:
        print_json(row)
        return
    click.echo(f"{row['title']}  [{row['type']}, {row['status']}]  /archive/{row['slug']}")
    click.echo(f"subject: {row['subject']}")
    for section in row["sections"]:
        click.echo(f"\n{section['title']}")
        for item_id in section["items"]:
            click.echo(f"  {item_id:>5}  {titles[item_id]}")
    counts = row["counts"]
    click.echo(f"\ndeliveries: {', '.join(f'{status} {number}' for status, number in counts.items())}")


@edition.command("preview")
@click.argument("edition_id", type=int)
@click.option("--out", "html_out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--text", "text_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@with_runtime()
def edition_preview(runtime: Runtime, edition_id: int, html_out: Path, text_out: Path | None) -> None:
    """Write the HTML (and text) a subscriber gets; a sent edition shows what was frozen."""
    with runtime.sessions() as session:
        found = get_edition(session, edition_id)
        if found.html and found.text:
            html, text = found.html, found.text
        else:
            rendered = render(runtime.config, found)
            html, text = rendered.html, rendered.text
    html_out.write_text(html, encoding="utf-8")
    click.echo(f"wrote {html_out} ({len(html.encode()) // 1024} KB)")
    if text_out:
        text_out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {text_out}")


@edition.command("schedule")
@click.argument("edition_id", type=int)
@click.option("--at", "at", required=True, help="ISO 8601 time with its offset, e.g. 2026-11-30T09:00:00+01:00")
@with_runtime()
def edition_schedule(runtime: Runtime, edition_id: int, at: str) -> None:
    """Send the edition at a given time (the worker in `digest run`/`digest worker` releases it)."""
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
    with runtime.sessions() as session, session.begin():
        queued = start_sending(session, runtime.config, edition_id)
    click.echo(f"edition {edition_id}: {queued} deliveries queued — `digest worker --drain` sends them")


@edition.command("cancel")
@click.argument("edition_id", type=int)
@with_runtime()
def edition_cancel(runtime: Runtime, edition_id: int) -> None:
    """Cancel a draft or scheduled edition."""
    with runtime.sessions() as session, session.begin():
        cancel(session, edition_id)
    click.echo(f"edition {edition_id} cancelled")
