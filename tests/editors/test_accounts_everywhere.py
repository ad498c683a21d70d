"""Editor accounts from the editors' app and from the command line: the same domain functions, so the
same audit lines; `digest editors list` and `digest editors password` (how a lost password is reset)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from digest.models import Editor
from digest.runtime import Runtime
from tests.audit_helpers import CLI_ACTOR, assert_same_line, last_line
from tests.cli import digest, digest_json
from tests.editor_helpers import ADMIN, EDITOR, Desk, log_in

NEW_PASSWORD = "a brand new passphrase"


def account_id(runtime: Runtime, email: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(Editor.id).where(Editor.email == email))


def test_adding_an_editor_writes_the_same_line_from_both(admin: Desk, runtime: Runtime, write_config) -> None:
    config = write_config()
    admin.follow("/editor/editors", {"email": "ana@example.org", "password": NEW_PASSWORD, "role": "editor"})
    web = last_line(runtime)
    admin.follow(f"/editor/editors/{account_id(runtime, 'ana@example.org')}/remove")

    digest("editors", "add", "ana@example.org", "--password-stdin", config=config, stdin=NEW_PASSWORD + "\n")

    assert_same_line(web, last_line(runtime), same_target=False)
    assert web["detail"] == {"email": "ana@example.org", "role": "editor"}


def test_editors_list(app: Flask, write_config) -> None:
    config = write_config()
    rows = digest_json("editors", "list", config=config)
    assert [(r["email"], r["role"]) for r in rows] == [(ADMIN, "admin"), (EDITOR, "editor")]
    assert set(rows[0]) == {"id", "email", "role", "created_at"} and rows[0]["created_at"].endswith("+00:00")
    table = digest("editors", "list", config=config).stdout.splitlines()
    assert table[0].split() == ["ID", "ROLE", "EMAIL", "CREATED"] and len(table) == 3


def test_a_new_password_from_the_command_line_opens_the_app(
    app: Flask, admin: Desk, runtime: Runtime, write_config
) -> None:
    config = write_config()
    editor_id = account_id(runtime, EDITOR)
    admin.follow(f"/editor/editors/{editor_id}/password", {"password": NEW_PASSWORD})
    web = last_line(runtime)

    result = digest("editors", "password", EDITOR, "--password-stdin", config=config, stdin=NEW_PASSWORD + "\n")

    assert result.stdout.strip() == f"new password set for {EDITOR}"
    assert_same_line(web, last_line(runtime))
    assert log_in(app.test_client(), EDITOR, NEW_PASSWORD).status_code == 302


def test_role_and_remove_write_the_same_lines_from_both(admin: Desk, runtime: Runtime, write_config) -> None:
    config = write_config()
    editor_id = account_id(runtime, EDITOR)
    admin.follow(f"/editor/editors/{editor_id}/role", {"role": "admin"})
    web_role = last_line(runtime)
    admin.follow(f"/editor/editors/{editor_id}/role", {"role": "editor"})
    digest("editors", "role", EDITOR, "admin", config=config)
    assert_same_line(web_role, last_line(runtime))

    digest("editors", "remove", EDITOR, config=config)
    cli_remove = last_line(runtime)
    assert (cli_remove["actor"], cli_remove["action"]) == (CLI_ACTOR, "editor.removed")
    assert cli_remove["detail"] == {"email": EDITOR} and cli_remove["target"] == f"editor {editor_id}"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["password", EDITOR, "--password-stdin"], "short\n", "the password must have at least 10 characters"),
        (["password", "nobody@example.org", "--password-stdin"], NEW_PASSWORD + "\n", "no editor account nobody@"),
        (["role", ADMIN, "editor"], None, f"{ADMIN} is the last admin; make someone else admin first"),
        (["remove", ADMIN], None, f"{ADMIN} is the last admin; make someone else admin first"),
        (["remove", ADMIN, "--as", ADMIN], None, "you cannot remove your own account; ask another admin"),
    ],
)
def test_refusals_are_one_line_and_exit_1(
    app: Flask, runtime: Runtime, write_config, args: list[str], stdin: str | None, message: str
) -> None:
    result = digest("editors", *args, config=write_config(), stdin=stdin, check=False)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"digest: error: {message}")
    assert digest_json("audit", "list", config=write_config()) == []
