"""The `digest` command line (see DESIGN.md: its commands and output are a stable contract)."""

from __future__ import annotations

import gc
import importlib
from types import ModuleType

import click

# Each command's module, imported only when that command runs: `digest worker` then loads the delivery
# code and not the web app's, the collectors' or the renderer's (a worker starts in well under a second).
COMMANDS = {
    "init": "services:init",
    "editors": "people:editors",
    "sources": "content:sources",
    "collect": "content:collect",
    "queue": "content:queue",
    "edition": "editions:edition",
    "subscribers": "people:subscribers",
    "worker": "services:worker",
    "scheduler": "services:scheduler",
    "serve": "services:serve",
    "run": "services:run",
    "archive": "archive:archive",
    "audit": "audit:audit_group",
    "bounces": "bounces:bounces",
}


class LazyGroup(click.Group):
    """A group whose commands are imported when one is asked for."""

    def list_commands(self, context: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, context: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _, attribute = COMMANDS[name].partition(":")
        return getattr(_imported(f"digest.cli.{module}"), attribute)


def _imported(name: str) -> ModuleType:
    """A command's module, imported with the garbage collector off, then everything imported frozen out of
    its reach. Imports make several hundred thousand objects that live as long as the process: collecting
    among them found nothing and was a tenth of a worker's start-up, and every full collection afterwards
    (a long-running worker or server) would walk them all again."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(name)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
