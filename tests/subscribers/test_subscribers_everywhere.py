"""What editors do to subscribers, from the editors' app and from the command line: add, import, export,
unsubscribe and forget are the same domain functions, so they write the same audit lines."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import select

from digest.models import Subscriber, Suppression
from digest.runtime import Runtime
from tests.audit_helpers import assert_same_line, last_line
from tests.cli import digest
from tests.editor_helpers import Desk

PEOPLE = "email,name\n{0}one@example.org,One\n{0}two@example.org,Two\n"


def subscriber_id(runtime: Runtime, email: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(Subscriber.id).where(Subscriber.email == email))


def test_add_unsubscribe_and_forget_write_the_same_lines_from_both(
    admin: Desk, runtime: Runtime, write_config
) -> None:
    config = write_config()
    admin.follow("/editor/subscribers", {"email": "web@example.org", "confirmed": "1"})
    web = {"add": last_line(runtime)}
    digest("subscribers", "add", "cli@example.org", "--confirmed", config=config)
    cli = {"add": last_line(runtime)}
    web_id = subscriber_id(runtime, "web@example.org")

    admin.follow(f"/editor/subscribers/{web_id}/unsubscribe")
    web["unsubscribe"] = last_line(runtime)
    assert digest("subscribers", "unsubscribe", "cli@example.org", config=config).stdout.strip() == (
        "unsubscribed cli@example.org"
    )
    cli["unsubscribe"] = last_line(runtime)
    again = digest("subscribers", "unsubscribe", "cli@example.org", config=config)
    assert again.stdout.strip() == "cli@example.org is unsubscribed: nothing to do"

    page = admin.follow(f"/editor/subscribers/{web_id}/forget")
    assert "Forgotten" in page and "web@example.org" not in page
    web["forget"] = last_line(runtime)
    digest("subscribers", "forget", "cli@example.org", config=config)
    cli["forget"] = last_line(runtime)

    for action in ("add", "unsubscribe", "forget"):
        assert_same_line(web[action], cli[action], same_target=False)
    assert [web[a]["action"] for a in web] == ["subscriber.added", "subscriber.unsubscribed", "subscriber.forgotten"]
    assert (web["add"]["detail"], web["unsubscribe"]["detail"]) == ({"status": "active"}, {"was": "active"})
    with runtime.sessions() as session:
        assert session.scalar(select(Subscriber.id).where(Subscriber.email.like("%@example.org"))) is None
        assert len(session.scalars(select(Suppression)).all()) == 2


def test_import_and_export_write_the_same_lines_from_both(
    admin: Desk, runtime: Runtime, write_config, tmp_path: Path
) -> None:
    config = write_config()
    upload = io.BytesIO(PEOPLE.format("web-").encode())
    response = admin.post(
        "/editor/subscribers/import", {"file": (upload, "people.csv")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    web_import = last_line(runtime)
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(PEOPLE.format("cli-"), encoding="utf-8")
    digest("subscribers", "import", str(csv_file), config=config)
    assert_same_line(web_import, last_line(runtime))
    assert web_import["detail"] == {"file": "people.csv", "added": 2, "updated": 0, "unchanged": 0, "rejected": 0}

    assert admin.get("/editor/subscribers/export.csv").status_code == 200
    web_export = last_line(runtime)
    exported = digest("subscribers", "export", config=config).stdout
    assert len(exported.splitlines()) == 5  # the header and four people
    assert_same_line(web_export, last_line(runtime))
    assert web_export["detail"] == {"rows": 4}


def test_an_unknown_subscriber_is_one_line_and_exit_1(runtime: Runtime, write_config) -> None:
    for command in ("forget", "unsubscribe"):
        result = digest("subscribers", command, "nobody@example.org", config=write_config(), check=False)
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            "digest: error: no subscriber nobody@example.org (see `digest subscribers list`)"
        ]
