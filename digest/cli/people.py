"""Commands for people: subscribers and editors."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import click

from digest.audit import Actor
from digest.cli.common import listing, with_runtime
from digest.editors.accounts import add_editor, list_accounts, named_account, remove_account, set_password, set_role
from digest.models import EDITOR_ROLES, SUBSCRIBER_STATUSES
from digest.runtime import Runtime
from digest.serialize import editor_json, subscriber_json
from digest.subscribers.roster import (
    add_subscriber,
    export_csv,
    forget_subscriber,
    import_csv,
    list_subscribers,
    named_subscriber,
    unsubscribe_subscriber,
)


@click.group()
def subscribers() -> None:
    """The people who receive the editions."""


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--confirmed", is_flag=True, help="Active at once (they opted in elsewhere).")
@with_runtime(acts=True)
def subscribers_add(runtime: Runtime, actor: Actor, email: str, name: str | None, confirmed: bool) -> None:
    """Add one subscriber (pending until confirmed, unless --confirmed)."""
    with runtime.sessions() as session, session.begin():
        subscriber = add_subscriber(session, actor, email, name, confirmed)
    click.echo(f"added {subscriber.email} ({subscriber.status})")


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_runtime(acts=True)
def subscribers_import(runtime: Runtime, actor: Actor, csv_file: Path) -> None:
    """Import a CSV with columns email, name, topics, language, status."""
    with csv_file.open("rb") as raw, import_progress(csv_file.stat().st_size) as progress:
        counted = CountingReader(raw)
        text = io.TextIOWrapper(io.BufferedReader(counted), encoding="utf-8-sig", newline="")
        report = import_csv(
            runtime.sessions, actor, text, csv_file.name, on_progress=lambda rows: progress(counted.count, rows)
        )
    click.echo(
        f"imported {csv_file}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected"
    )
    for line, reason in report.rejected:
        click.echo(f"  line {line}: {reason}")


class CountingReader(io.RawIOBase):
    """Counts the bytes read through it, for the progress bar."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        read = self.raw.readinto(buffer) or 0
        self.count += read
        return read


@contextmanager
def import_progress(total_bytes: int) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal (stderr); nothing when stderr is a file or a pipe."""
    if not sys.stderr.isatty():
        yield lambda done, rows: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("import", total=total_bytes, rows=0)
        yield lambda done, rows: bar.update(task, completed=done, rows=f"{rows:,}")


@subscribers.command("forget")
@click.argument("email")
@with_runtime(acts=True)
def subscribers_forget(runtime: Runtime, actor: Actor, email: str) -> None:
    """Erase a person's data at their request; the address is never added again."""
    with runtime.sessions() as session, session.begin():
        forget_subscriber(session, actor, named_subscriber(session, email), outbox_dir=runtime.config.outbox_dir)
    click.echo(f"forgot {email.strip()}: personal data erased, address suppressed")


@subscribers.command("unsubscribe")
@click.argument("email")
@with_runtime(acts=True)
def subscribers_unsubscribe(runtime: Runtime, actor: Actor, email: str) -> None:
    """Stop sending anything to a subscriber (they can subscribe again themselves)."""
    with runtime.sessions() as session, session.begin():
        subscriber = named_subscriber(session, email)
        changed = unsubscribe_subscriber(session, actor, subscriber)
        status = subscriber.status
    click.echo(f"unsubscribed {email.strip()}" if changed else f"{email.strip()} is {status}: nothing to do")


@subscribers.command("list")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), default=None)
@listing(["ID", "STATUS", "EMAIL", "NAME"], lambda r: [r["id"], r["status"], r["email"], r["name"]])
@with_runtime()
def subscribers_list(runtime: Runtime, status: str | None) -> list[dict[str, Any]]:
    """List subscribers."""
    with runtime.sessions() as session:
        return [subscriber_json(subscriber) for subscriber in list_subscribers(session, status)]


@subscribers.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: stdout).")
@with_runtime(acts=True)
def subscribers_export(runtime: Runtime, actor: Actor, out: Path | None) -> None:
    """Export every subscriber as CSV."""
    with runtime.sessions() as session, session.begin():
        if out is None:
            export_csv(session, actor, sys.stdout)
            return
        with out.open("w", encoding="utf-8", newline="") as handle:
            count = export_csv(session, actor, handle)
    click.echo(f"exported {count} subscribers to {out}")


@click.group()
def editors() -> None:
    """Editor accounts."""


@editors.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(EDITOR_ROLES), default="editor", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_runtime(acts=True)
def editors_add(runtime: Runtime, actor: Actor, email: str, role: str, password_stdin: bool) -> None:
    """Create an editor account."""
    password = read_password(password_stdin)
    with runtime.sessions() as session, session.begin():
        editor = add_editor(session, actor, email, password, role)
    click.echo(f"added {editor.role} {editor.email}")


@editors.command("list")
@listing(["ID", "ROLE", "EMAIL", "CREATED"], lambda r: [r["id"], r["role"], r["email"], r["created_at"]])
@with_runtime()
def editors_list(runtime: Runtime) -> list[dict[str, Any]]:
    """List the editor accounts."""
    with runtime.sessions() as session:
        return [editor_json(editor) for editor in list_accounts(session)]


@editors.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@with_runtime(acts=True)
def editors_password(runtime: Runtime, actor: Actor, email: str, password_stdin: bool) -> None:
    """Set a new password (for a lost one too); the account's open sessions end."""
    password = read_password(password_stdin)
    with runtime.sessions() as session, session.begin():
        editor = set_password(session, actor, named_account(session, email), password)
    click.echo(f"new password set for {editor.email}")


@editors.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(EDITOR_ROLES))
@with_runtime(acts=True)
def editors_role(runtime: Runtime, actor: Actor, email: str, role: str) -> None:
    """Make an account an editor or an admin (one admin always remains)."""
    with runtime.sessions() as session, session.begin():
        editor = set_role(session, actor, named_account(session, email), role)
    click.echo(f"{editor.email} is now {editor.role}")


@editors.command("remove")
@click.argument("email")
@with_runtime(acts=True)
def editors_remove(runtime: Runtime, actor: Actor, email: str) -> None:
    """Remove an account (never the last admin); its lines in the audit trail stay."""
    with runtime.sessions() as session, session.begin():
        removed = remove_account(session, actor, named_account(session, email))
    click.echo(f"removed {removed}")


def read_password(from_stdin: bool) -> str:
    """The first line of standard input, or a hidden prompt (twice) on a terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    raise click.UsageError("give the password with --password-stdin")
