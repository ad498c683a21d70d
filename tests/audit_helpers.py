"""Comparing the audit lines the editors' app and the command line write for the same action."""

from __future__ import annotations

import getpass
from typing import Any

from digest import audit
from digest.runtime import Runtime
from digest.serialize import audit_json
from tests.editor_helpers import ADMIN

CLI_ACTOR = f"cli:{getpass.getuser()}"


def last_line(runtime: Runtime) -> dict[str, Any]:
    """The newest line of the trail, as `digest audit list --json` shows it."""
    with runtime.sessions() as session:
        [entry] = audit.recent(session, limit=1)
        return audit_json(entry)


def assert_same_line(web: dict[str, Any], cli: dict[str, Any], same_target: bool = True) -> None:
    """The same line but for who did it (and, for something created twice, which row it is)."""
    assert (web["actor"], cli["actor"]) == (ADMIN, CLI_ACTOR)
    assert (web["action"], web["detail"]) == (cli["action"], cli["detail"])
    if same_target:
        assert web["target"] == cli["target"]
    else:
        assert web["target"].split()[0] == cli["target"].split()[0]
