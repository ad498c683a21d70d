"""An editorial action writes the same audit line whichever interface did it: the command line names
its operating-system user (or the editor --as gives), the editors' app the logged-in editor."""

from __future__ import annotations

import getpass

from digest.audit import SYSTEM
from digest.editors.accounts import add_editor
from tests.cli import digest, digest_json
from tests.factories import make_item


def test_queue_approve_from_the_command_line_is_in_the_audit_trail(runtime, write_config) -> None:
    config = write_config()
    with runtime.sessions() as session, session.begin():
        item_id = make_item(session, "Hydrogen valley call", status="pending").id

    digest("queue", "approve", str(item_id), config=config)

    [entry] = digest_json("audit", "list", config=config)
    assert entry["actor"] == f"cli:{getpass.getuser()}"
    assert entry["action"] == "item.approved"
    assert entry["target"] == f"item {item_id}"
    assert entry["at"].endswith("+00:00")
    assert digest_json("queue", "list", "--status", "approved", config=config)[0]["id"] == item_id


def test_as_names_an_editor_and_an_unknown_one_changes_nothing(runtime, write_config) -> None:
    config = write_config()
    with runtime.sessions() as session, session.begin():
        ana = add_editor(session, SYSTEM, "Ana@Example.org", "a long enough password", "editor").id
        first = make_item(session, "First", status="pending").id
        second = make_item(session, "Second", status="pending").id

    digest("queue", "feature", str(first), "--as", "ana@example.org", config=config)
    digest("--as", "ana@example.org", "queue", "reject", str(second), "--note", "off topic", config=config)
    refused = digest("queue", "approve", str(first), "--as", "nobody@example.org", config=config, check=False)

    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "digest: error: --as nobody@example.org: no editor account has that address (see `digest editors list`)"
    ]
    entries = digest_json("audit", "list", config=config)
    assert [(e["actor"], e["action"], e["target"], e["detail"]) for e in entries] == [
        ("ana@example.org", "item.rejected", f"item {second}", {"note": "off topic"}),
        ("ana@example.org", "item.featured", f"item {first}", {}),
        ("system", "editor.added", f"editor {ana}", {"email": "ana@example.org", "role": "editor"}),
    ]
    assert digest_json("queue", "list", "--status", "pending", config=config)[0]["id"] == first


def test_audit_list_limit_and_table(runtime, write_config) -> None:
    config = write_config()
    with runtime.sessions() as session, session.begin():
        ids = [make_item(session, f"Item {n}", status="pending").id for n in range(3)]

    digest("queue", "approve", *map(str, ids), config=config)

    assert [e["target"] for e in digest_json("audit", "list", "--limit", "2", config=config)] == [
        f"item {ids[2]}",
        f"item {ids[1]}",
    ]
    table = digest("audit", "list", config=config).stdout.splitlines()
    assert table[0].split() == ["AT", "ACTOR", "ACTION", "TARGET", "DETAIL"]
    assert len(table) == 4
