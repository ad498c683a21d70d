"""What every command shares: --config, the runtime, handled errors and --json output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from digest.audit import Actor
from digest.config import load_config
from digest.db import current_revision, newest_revision, unusable
from digest.errors import DigestError
from digest.runtime import Runtime


class NotInitialised(DigestError):
    pass


def fail(message: str) -> None:
    click.echo(f"digest: error: {message}", err=True)
    sys.exit(1)


def config_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Configuration file (default: $DIGEST_CONFIG, else ./config.yaml).",
    )(command)


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print a JSON array on stdout, nothing else.")(command)


def as_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as",
        "as_email",
        metavar="EMAIL",
        default=None,
        help="Act as this editor in the audit trail (default: cli:<your operating-system user>).",
    )(command)


def with_runtime(needs_schema: bool = True, acts: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give the command a Runtime built from --config (or the group's --config), and turn
    handled errors into one line on stderr with exit status 1.

    A command that `acts` (changes what editors manage) also gets --as and an `actor` argument:
    who the audit trail names, checked against the editor accounts."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @config_option
        @click.pass_context
        @functools.wraps(command)
        def wrapper(context: click.Context, config_path: str | None, **kwargs: Any) -> Any:
            root = context.find_root().obj or {}
            path = config_path or root.get("config_path")
            runtime = None
            try:
                runtime = Runtime(load_config(path))
                if needs_schema:
                    ensure_schema(runtime)
                if acts:
                    kwargs["actor"] = cli_actor(runtime, kwargs.pop("as_email", None) or root.get("as_email"))
                return command(runtime, **kwargs)
            except DigestError as error:
                fail(str(error))
            except SQLAlchemyError as error:
                problem = unusable(runtime.config.database_url, error) if runtime is not None else None
                if problem is None:
                    raise
                fail(str(problem))
            finally:
                if runtime is not None:
                    runtime.close()

        return as_option(wrapper) if acts else wrapper

    return decorate


def edition_step(name: str, step: Callable[[Session, Actor, int], object], done: str, summary: str) -> click.Command:
    """`digest edition NAME ID`: one step of an edition's life, its domain function (which writes the audit
    line) run in one transaction; once it is committed, ``done`` is printed with the edition id for ``{id}``."""

    @click.command(name, help=summary)
    @click.argument("edition_id", type=int)
    @with_runtime(acts=True)
    def command(runtime: Runtime, actor: Actor, edition_id: int) -> None:
        with runtime.sessions() as session, session.begin():
            step(session, actor, edition_id)
        click.echo(done.format(id=edition_id))

    return command


def cli_actor(runtime: Runtime, as_email: str | None) -> Actor:
    """``cli:<user>``, or the editor --as names (who must have an account)."""
    from digest.editors.accounts import find_editor  # only for a command that acts: the worker does not

    if not as_email:
        return Actor.command_line()
    with runtime.sessions() as session:
        editor = find_editor(session, as_email)
        if editor is None:
            raise DigestError(f"--as {as_email}: no editor account has that address (see `digest editors list`)")
        return Actor.of(editor)


def ensure_schema(runtime: Runtime) -> None:
    current = current_revision(runtime.engine)
    if current is None:
        raise NotInitialised("the database is empty: run `digest init` first")
    if current != newest_revision():
        raise NotInitialised("the database schema is older than this version: run `digest init` to upgrade it")


def listing(
    headers: list[str], cells: Callable[[dict[str, Any]], list[Any]]
) -> Callable[[Callable[..., list[dict[str, Any]]]], Callable[..., None]]:
    """A listing command: it returns its rows, printed as a table of ``headers`` (a row's ``cells``), or with
    --json as they are (a JSON array on stdout, nothing else)."""

    def decorate(command: Callable[..., list[dict[str, Any]]]) -> Callable[..., None]:
        @json_option
        @functools.wraps(command)
        def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> None:
            rows = command(*args, **kwargs)
            if as_json:
                print_json(rows)
            else:
                print_table([cells(row) for row in rows], headers)

        return wrapper

    return decorate


def print_json(rows: list[dict[str, Any]] | dict[str, Any]) -> None:
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


def print_table(rows: list[list[Any]], headers: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[str(value) if value is not None else "—" for value in row] for row in rows]
    widths = [max(len(headers[i]), *(len(row[i]) for row in cells)) for i in range(len(headers))]
    widths = [min(width, 60) for width in widths]
    click.echo("  ".join(header.ljust(widths[i]) for i, header in enumerate(headers)).rstrip())
    for row in cells:
        click.echo("  ".join(_clip(value, widths[i]).ljust(widths[i]) for i, value in enumerate(row)).rstrip())


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def parse_ids(values: tuple[str, ...]) -> list[int]:
    ids = []
    for value in values:
        for part in value.replace(",", " ").split():
            if not part.isdigit():
                raise click.BadParameter(f"{part!r} is not an item id (a whole number)")
            ids.append(int(part))
    if not ids:
        raise click.BadParameter("give at least one id")
    return ids
