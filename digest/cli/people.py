"""Commands for people: subscribers and editors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.cli.common import json_option, print_json, print_table, with_runtime
from digest.editors import add_editor
from digest.models import SUBSCRIBER_STATUSES
from digest.runtime import Runtime
from digest.serialize import subscriber_json
from digest.subscribers import add_subscriber, export_csv, import_csv, list_subscribers


@click.group()
def subscribers() -> None:
    """The people who receive the editions."""


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--confirmed", is_flag=True, help="Active at once (they opted in elsewhere).")
@with_runtime()
def subscribers_add(runtime: Runtime, email: str, name: str | None, confirmed: bool) -> None:
    """Add one subscriber (pending until confirmed, unless --confirmed)."""
    with runtime.sessions() as session, session.begin():
        subscriber = add_subscriber(session, email, name, confirmed)
    click.echo(f"added {subscriber.email} ({subscriber.status})")


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_runtime()
def subscribers_import(runtime: Runtime, csv_file: Path) -> None:
    """Import a CSV with columns email, name, topics, language, status."""
    show = sys.stderr.isatty()
    with csv_file.open(encoding="utf-8-sig", newline="") as handle:
        report = import_csv(
            runtime.sessions, handle, on_progress=lambda rows: click.echo(f"  {rows} rows…", err=True) if show else None
        )
    click.echo(
        f"imported {csv_file}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected"
    )
    for line, reason in report.rejected:
        click.echo(f"  line {line}: {reason}")


@subscribers.command("list")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), default=None)
@json_option
@with_runtime()
def subscribers_list(runtime: Runtime, status: str | None, as_json: bool) -> None:
    """List subscribers."""
    with runtime.sessions() as session:
        rows = [subscriber_json(subscriber) for subscriber in list_subscribers(session, status)]
    if as_json:
        print_json(rows)
        return
    print_table([[r["id"], r["status"], r["email"], r["name"]] for r in rows], ["ID", "STATUS", "EMAIL", "NAME"])


@subscribers.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: stdout).")
@with_runtime()
def subscribers_export(runtime: Runtime, out: Path | None) -> None:
    """Export every subscriber as CSV."""
    with runtime.sessions() as session:
        if out is None:
            export_csv(session, sys.stdout)
            return
        with out.open("w", encoding="utf-8", newline="") as handle:
            count = export_csv(session, handle)
    click.echo(f"exported {count} subscribers to {out}")


@click.group()
def editors() -> None:
    """Editor accounts."""


@editors.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["editor", "admin"]), default="editor", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_runtime()
def editors_add(runtime: Runtime, email: str, role: str, password_stdin: bool) -> None:
    """Create an editor account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        raise click.UsageError("give the password with --password-stdin")
    with runtime.sessions() as session, session.begin():
        editor = add_editor(session, email, password, role)
    click.echo(f"added {editor.role} {editor.email}")
