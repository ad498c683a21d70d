"""`digest audit list`: the trail of editorial actions, from the web app and the command line alike."""

from __future__ import annotations

import json
from typing import Any

import click

from digest import audit
from digest.cli.common import listing, with_runtime
from digest.runtime import Runtime
from digest.serialize import audit_json


@click.group("audit")
def audit_group() -> None:
    """Who did what, when: every editorial action."""


@audit_group.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="How many entries.")
@listing(
    ["AT", "ACTOR", "ACTION", "TARGET", "DETAIL"],
    lambda r: [r["at"], r["actor"], r["action"], r["target"], _brief(r["detail"])],
)
@with_runtime()
def audit_list(runtime: Runtime, limit: int) -> list[dict[str, Any]]:
    """The latest entries, newest first."""
    with runtime.sessions() as session:
        return [audit_json(entry) for entry in audit.recent(session, limit)]


def _brief(detail: dict[str, object]) -> str:
    return json.dumps(detail, ensure_ascii=False, separators=(",", ":")) if detail else ""
