"""The `digest` command line (see DESIGN.md: its commands and output are a stable contract)."""

from __future__ import annotations

import click

from digest.cli import archive, audit, bounces, content, editions, people, services


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default: $DIGEST_CONFIG, else ./config.yaml).",
)
@click.option(
    "--as",
    "as_email",
    metavar="EMAIL",
    default=None,
    help="Act as this editor in the audit trail (default: cli:<your operating-system user>).",
)
@click.pass_context
def main(context: click.Context, config_path: str | None, as_email: str | None) -> None:
    """Cluster Digest: collect, curate and send a cluster platform's newsletters and weekly digest."""
    context.obj = {"config_path": config_path, "as_email": as_email}


for command in (
    services.init,
    people.editors,
    content.sources,
    content.collect,
    content.queue,
    editions.edition,
    people.subscribers,
    services.worker,
    services.scheduler,
    services.serve,
    services.run,
    archive.archive,
    audit.audit_group,
    bounces.bounces,
):
    main.add_command(command)
