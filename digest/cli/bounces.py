"""`digest bounces process|list-unknown`: bounce and complaint reports (the work is in digest/bounces/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from digest.audit import Actor
from digest.bounces.processing import process_mailbox, unknown_reports
from digest.cli.common import listing, print_json, with_runtime
from digest.runtime import Runtime
from digest.serialize import iso


@click.group()
def bounces() -> None:
    """Bounces and complaints: read the bounce mailbox, list what was not understood."""


@bounces.command("process")
@click.option("--maildir", type=click.Path(file_okay=False, path_type=Path), help="Read this Maildir folder.")
@click.option("--mbox", type=click.Path(dir_okay=False, path_type=Path), help="Read this mbox file.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per report, nothing else.")
@with_runtime(acts=True)
def bounces_process(runtime: Runtime, actor: Actor, maildir: Path | None, mbox: Path | None, as_json: bool) -> None:
    """Read the unprocessed reports of the bounce mailbox (default: bounces.mailbox) and record each."""
    if maildir and mbox:
        raise click.UsageError("give --maildir or --mbox, not both")
    run = process_mailbox(runtime, actor, maildir, mbox)
    if as_json:
        print_json([outcome.as_json() for outcome in run.outcomes])
        return
    for outcome in run.outcomes:
        who = outcome.subscriber or "—"
        delivery = f"delivery {outcome.delivery}" if outcome.delivery else "no delivery"
        click.echo(f"{outcome.kind:9} {outcome.status or '—':8} {outcome.action:10} {who} ({delivery})")
    click.echo(f"bounces: {run.summary}")


@bounces.command("list-unknown")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--raw", is_flag=True, help="With --json: include each report's text.")
@listing(
    ["ID", "RECEIVED", "ORIGIN", "STATUS", "REASON"],
    lambda r: [r["id"], r["received_at"], r["origin"], r["status"], r["reason"]],
)
@with_runtime()
def bounces_list_unknown(runtime: Runtime, limit: int, raw: bool) -> list[dict[str, Any]]:
    """Reports kept because they were not understood or matched no subscriber, newest first."""
    with runtime.sessions() as session:
        return [
            {
                "id": report.id,
                "received_at": iso(report.received_at),
                "origin": report.origin,
                "status": report.status,
                "delivery": report.delivery_id,
                "reason": report.reason,
            }
            | ({"raw": report.raw} if raw else {})
            for report in unknown_reports(session, limit)
        ]
