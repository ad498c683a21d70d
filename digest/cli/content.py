"""Commands for what goes into editions: sources, collection and the editorial queue."""

from __future__ import annotations

import sys
from typing import Any

import click

from digest.audit import Actor
from digest.cli.common import json_option, listing, parse_ids, print_json, print_table, with_runtime
from digest.items.queue import ORDER_HELP, SORTS, decide, feature, list_items
from digest.items.sources import add_source, list_sources, named_source, remove_source, set_enabled
from digest.models import ITEM_KINDS, ITEM_STATUSES
from digest.runtime import Runtime
from digest.serialize import item_json, source_json

SOURCE_KIND_CHOICES = click.Choice(["news", "event", "call", "achievement", "auto"])


@click.group()
def sources() -> None:
    """The feeds items are collected from."""


@sources.command("list")
@listing(
    ["NAME", "KIND", "ENABLED", "STATUS", "LAST ERROR", "URL"],
    lambda r: [r["name"], r["kind"], "yes" if r["enabled"] else "no", r["status"], r["last_error"], r["url"]],
)
@with_runtime()
def sources_list(runtime: Runtime) -> list[dict[str, Any]]:
    """List the sources and their health."""
    with runtime.sessions() as session:
        return [source_json(source) for source in list_sources(session)]


@sources.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--kind", type=SOURCE_KIND_CHOICES, default="auto", show_default=True)
@with_runtime(acts=True)
def sources_add(runtime: Runtime, actor: Actor, name: str, url: str, kind: str) -> None:
    """Add a feed (RSS, Atom or iCalendar)."""
    with runtime.sessions() as session, session.begin():
        source = add_source(session, actor, name, url, kind)
    click.echo(f"added source {source.name!r} ({kind}) — collect it with `digest collect --source {source.name!r}`")


@sources.command("remove")
@click.argument("name")
@with_runtime(acts=True)
def sources_remove(runtime: Runtime, actor: Actor, name: str) -> None:
    """Remove a source; the items it brought stay in the queue."""
    with runtime.sessions() as session, session.begin():
        remove_source(session, actor, name)
    click.echo(f"removed source {name!r}")


@sources.command("enable")
@click.argument("name")
@with_runtime(acts=True)
def sources_enable(runtime: Runtime, actor: Actor, name: str) -> None:
    """Collect a source again."""
    _switch(runtime, actor, name, True)


@sources.command("disable")
@click.argument("name")
@with_runtime(acts=True)
def sources_disable(runtime: Runtime, actor: Actor, name: str) -> None:
    """Stop collecting a source; its items stay."""
    _switch(runtime, actor, name, False)


def _switch(runtime: Runtime, actor: Actor, name: str, enabled: bool) -> None:
    state = "enabled" if enabled else "disabled"
    with runtime.sessions() as session, session.begin():
        changed = set_enabled(session, actor, named_source(session, name), enabled)
    click.echo(f"{state} source {name!r}" if changed else f"source {name!r} was already {state}")


@click.command()
@click.option("--source", "source_name", default=None, help="Collect only this source.")
@json_option
@with_runtime()
def collect(runtime: Runtime, source_name: str | None, as_json: bool) -> None:
    """Fetch the sources and put new items in the queue."""
    from sources.collector import collect as run_collection

    show_progress = not as_json and sys.stderr.isatty()
    results = run_collection(runtime, source_name, on_result=_progress_printer() if show_progress else None)
    if as_json:
        print_json([result.as_json() for result in results])
        return
    print_table(
        [[r.source, r.status, r.fetched, r.new, r.duplicates, r.updated, r.error] for r in results],
        ["SOURCE", "STATUS", "FETCHED", "NEW", "DUPLICATES", "UPDATED", "ERROR"],
    )
    for result in results:
        for warning in result.warnings:
            click.echo(f"warning: {result.source}: {warning}")
    failed = sum(1 for r in results if r.status == "error")
    click.echo(f"{sum(r.new for r in results)} new items from {len(results)} sources, {failed} failed")


def _progress_printer():
    done = 0

    def show(result) -> None:
        nonlocal done
        done += 1
        click.echo(f"  [{done}] {result.source}: {result.status}", err=True)

    return show


@click.group()
def queue() -> None:
    """The editorial queue: review collected and submitted items."""


@queue.command("list")
@click.option("--status", type=click.Choice(ITEM_STATUSES), default=None)
@click.option("--kind", type=click.Choice(ITEM_KINDS), default=None)
@click.option("--sort", type=click.Choice(list(SORTS)), default="auto", show_default=True, help=ORDER_HELP)
@listing(
    ["ID", "STATUS", "KIND", "SOURCE", "", "TITLE"],
    lambda r: [r["id"], r["status"], r["kind"], r["source"], "★" if r["featured"] else "", r["title"]],
)
@with_runtime()
def queue_list(runtime: Runtime, status: str | None, kind: str | None, sort: str) -> list[dict[str, Any]]:
    """List items in the order of the editors' queue: what arrived last first, each kind its own way
    (events by start, calls by deadline, news and achievements newest first); see --sort."""
    with runtime.sessions() as session:
        return [item_json(item) for item in list_items(session, status, kind, sort)]


@queue.command("approve")
@click.argument("ids", nargs=-1, required=True)
@with_runtime(acts=True)
def queue_approve(runtime: Runtime, actor: Actor, ids: tuple[str, ...]) -> None:
    """Approve items for the next edition."""
    _decide(runtime, actor, ids, "approved", None)


@queue.command("reject")
@click.argument("ids", nargs=-1, required=True)
@click.option("--note", default=None, help="Why (kept on the item).")
@with_runtime(acts=True)
def queue_reject(runtime: Runtime, actor: Actor, ids: tuple[str, ...], note: str | None) -> None:
    """Reject items; they never come back from their source."""
    _decide(runtime, actor, ids, "rejected", note)


def _decide(runtime: Runtime, actor: Actor, ids: tuple[str, ...], status: str, note: str | None) -> None:
    item_ids = parse_ids(ids)
    with runtime.sessions() as session, session.begin():
        decide(session, actor, item_ids, status, note, notify=runtime.config)
    click.echo(f"{status} {len(item_ids)} item(s): {', '.join(map(str, item_ids))}")


@queue.command("feature")
@click.argument("ids", nargs=-1, required=True)
@click.option("--off", is_flag=True, help="Remove the feature mark instead.")
@with_runtime(acts=True)
def queue_feature(runtime: Runtime, actor: Actor, ids: tuple[str, ...], off: bool) -> None:
    """Feature items: they lead their section."""
    item_ids = parse_ids(ids)
    with runtime.sessions() as session, session.begin():
        feature(session, actor, item_ids, featured=not off)
    click.echo(f"{'unfeatured' if off else 'featured'} {len(item_ids)} item(s): {', '.join(map(str, item_ids))}")
