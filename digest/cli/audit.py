"""`digest audit list`: the trail of editorial actions, from the web app and the command line alike."""

from __future__ import annotations

import json
from typing import Any

import click

from digest import audit
from digest.cli.common import json_option, print_json, print_table, with_runtime
from digest.rendering import dates
from digest.runtime import Runtime
from digest.serialize import audit_json


@click.group("audit")
def audit_group() -> None:
    """Who did what, when: every editorial action."""


@audit_group.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="How many entries.")
@json_option
@with_runtime()
def audit_list(runtime: Runtime, limit: int, as_json: bool) -> None:
    """The latest entries, newest first: times in the site's zone (with --json, ISO 8601 in UTC)."""
    with runtime.sessions() as session:
        rows = [audit_json(entry) for entry in audit.recent(session, limit)]
    if as_json:
        print_json(rows)
        return
    print_table(
        [_cells(row, runtime.config.site.timezone) for row in rows], ["AT", "ACTOR", "ACTION", "TARGET", "DETAIL"]
    )


def _cells(row: dict[str, Any], zone: str) -> list[Any]:
    detail = {key: dates.local_text(value, zone) for key, value in row["detail"].items()}
    return [dates.local_text(row["at"], zone), row["actor"], row["action"], row["target"], _brief(detail)]


def _brief(detail: dict[str, object]) -> str:
    return json.dumps(detail, ensure_ascii=False, separators=(",", ":")) if detail else ""
