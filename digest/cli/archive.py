"""`digest archive …`: the public archive of sent editions (its web pages are served by `digest serve`)."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import with_runtime
from digest.runtime import Runtime


@click.group()
def archive() -> None:
    """The public archive of sent editions."""


@archive.command("build")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write into.")
@click.option(
    "--base-url",
    default=None,
    help="Where the files will be served (default: site.base_url); used by the feeds and canonical links.",
)
@with_runtime()
def archive_build(runtime: Runtime, out: Path, base_url: str | None) -> None:
    """Write the archive as static files: index pages, editions, feeds, calendars."""
    from archive.export import build_archive

    report = build_archive(runtime, out, base_url)
    click.echo(
        f"archive: {report.editions} edition(s), {report.index_pages} index page(s), "
        f"{report.events} event calendar(s): {report.files} files in {report.out}"
    )
