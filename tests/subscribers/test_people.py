"""Subscribers and editors from the command line: add, import with bad rows, export, accounts."""

from __future__ import annotations

import csv
import io
import os
import pty
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from digest.audit import SYSTEM
from digest.editors.accounts import authenticate
from digest.models import Editor, Subscriber
from digest.runtime import Runtime
from digest.subscribers.roster import find_subscriber, import_csv
from tests.cli import DIGEST, digest, digest_json


def test_subscribers_add_normalises_and_refuses_duplicates(write_config: Callable[..., Path]) -> None:
    config = write_config()
    digest("init", config=config)
    digest("subscribers", "add", "  Marie.Dubois@Example.ORG ", "--name", "Marie", "--confirmed", config=config)
    digest("subscribers", "add", "jan@example.org", config=config)
    again = digest("subscribers", "add", "marie.dubois@example.org", config=config, check=False)
    assert again.returncode == 1 and "already a subscriber" in again.stderr
    bad = digest("subscribers", "add", "not-an-address", config=config, check=False)
    assert bad.returncode == 1 and "not a valid email address" in bad.stderr
    rows = digest_json("subscribers", "list", config=config)
    assert [(r["email"], r["name"], r["status"]) for r in rows] == [
        ("marie.dubois@example.org", "Marie", "active"),
        ("jan@example.org", None, "pending"),
    ]
    assert rows[0]["confirmed_at"] and rows[1]["confirmed_at"] is None
    assert [r["email"] for r in digest_json("subscribers", "list", "--status", "pending", config=config)] == [
        "jan@example.org"
    ]


def test_import_reports_bad_rows_and_never_reactivates_an_unsubscribed_address(
    write_config: Callable[..., Path], tmp_path: Path, runtime: Runtime
) -> None:
    config = write_config()
    digest("subscribers", "add", "gone@example.org", "--confirmed", config=config)
    digest("subscribers", "add", "leaving@example.org", "--confirmed", config=config)
    with runtime.sessions() as session, session.begin():
        find_subscriber(session, "gone@example.org").status = "unsubscribed"
    source = tmp_path / "people.csv"
    source.write_text(
        "email,name,topics,language,status\n"
        "ana@example.org,Ana Ferreira,Health;Digital,pt,\n"
        "broken-address,Nobody,,,\n"
        "gone@example.org,Gone,,,\n"
        "lukas@example.org,Lukas,,de,pending\n"
        "eva@example.org,Eva,,,bounced\n"
        "ANA@example.org,Ana F.,,,\n"
        "leaving@example.org,,,,unsubscribed\n"
        "odd@example.org,Odd,,not a language,\n"
        "who@example.org,Who,,,vip\n",
        encoding="utf-8",
    )
    result = digest("subscribers", "import", str(source), config=config)
    assert "3 added, 2 updated, 0 unchanged, 4 rejected" in result.stdout
    assert "line 3: 'broken-address' is not a valid email address" in result.stdout
    assert "line 4: gone@example.org is unsubscribed; it is never re-activated" in result.stdout
    assert "line 9: language 'not a language' is not a language code" in result.stdout
    assert "line 10: status 'vip' is not one of pending, active, unsubscribed" in result.stdout
    people = {r["email"]: r for r in digest_json("subscribers", "list", config=config)}
    assert people["gone@example.org"]["status"] == "unsubscribed"
    assert people["ana@example.org"]["name"] == "Ana F."
    assert people["ana@example.org"]["preferences"]["topics"] == ["Health", "Digital"]
    assert people["lukas@example.org"]["status"] == "pending"
    assert people["eva@example.org"]["status"] == "bounced"  # recorded, so never mailed
    assert people["leaving@example.org"]["status"] == "unsubscribed"  # an import may lower a status, never raise it
    assert "odd@example.org" not in people and "who@example.org" not in people


def test_an_import_matches_topics_for_delivery(runtime: Runtime) -> None:
    rows = "email,topics\nsea@example.org,Blue economy; Maritime\nall@example.org,\n"
    import_csv(runtime.sessions, SYSTEM, io.StringIO(rows), "people.csv")
    with runtime.sessions() as session:
        stored = {s.email: (s.wanted_editions, s.wanted_topics) for s in session.scalars(select(Subscriber))}
    assert stored == {
        "sea@example.org": ("|digest|newsletter|", "|blue economy|maritime|"),
        "all@example.org": ("|digest|newsletter|", ""),
    }


def test_the_import_shows_a_progress_bar_on_a_terminal(write_config: Callable[..., Path], tmp_path: Path) -> None:
    config = write_config()
    digest("init", config=config)
    source = tmp_path / "many.csv"
    source.write_text("email\n" + "".join(f"p{n}@example.org\n" for n in range(12_000)), encoding="utf-8")
    main, terminal = pty.openpty()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DIGEST_")}
    child = subprocess.Popen(
        [*DIGEST, "subscribers", "import", str(source), "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=environment | {"COLUMNS": "100", "TERM": "xterm"},
    )
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    stdout, _ = child.communicate(timeout=120)
    os.close(main)
    assert b"12000 added" in stdout
    screen = drawn.decode("utf-8", "replace")
    assert "importing" in screen and "rows" in screen and "10,000" in screen
    small = tmp_path / "few.csv"
    small.write_text("email\nsomeone@example.org\n", encoding="utf-8")
    piped = digest("subscribers", "import", str(small), config=config)  # not a terminal: no bar
    assert piped.stderr == "" and "1 added" in piped.stdout


def test_import_commits_in_batches_and_reports_progress(runtime: Runtime) -> None:
    rows = "email\n" + "".join(f"person{n}@example.org\n" for n in range(25_000))
    progress: list[int] = []
    report = import_csv(runtime.sessions, SYSTEM, io.StringIO(rows), "people.csv", on_progress=progress.append)
    assert report.added == 25_000 and not report.rejected
    assert progress == [10_000, 20_000, 25_000]


def test_export_writes_every_subscriber_as_csv(write_config: Callable[..., Path]) -> None:
    config = write_config()
    digest("init", config=config)
    digest("subscribers", "add", "a@example.org", "--name", "Anne, the first", "--confirmed", config=config)
    digest("subscribers", "add", "b@example.org", config=config)
    exported = list(csv.DictReader(io.StringIO(digest("subscribers", "export", config=config).stdout)))
    assert [(r["email"], r["name"], r["status"]) for r in exported] == [
        ("a@example.org", "Anne, the first", "active"),
        ("b@example.org", "", "pending"),
    ]


def test_editors_add_reads_the_password_from_stdin(write_config: Callable[..., Path], runtime: Runtime) -> None:
    config = write_config()
    result = digest(
        "editors",
        "add",
        "Chief@Example.org",
        "--role",
        "admin",
        "--password-stdin",
        config=config,
        stdin="a long enough password\n",
    )
    assert "added admin chief@example.org" in result.stdout
    with runtime.sessions() as session:
        editor = session.scalar(select(Editor))
        assert editor.role == "admin"
        assert "a long enough password" not in editor.password_hash
        assert authenticate(session, "chief@example.org", "a long enough password") is not None
        assert authenticate(session, "chief@example.org", "wrong password!") is None
    short = digest("editors", "add", "x@example.org", "--password-stdin", config=config, stdin="short\n", check=False)
    assert short.returncode == 1 and "at least 10 characters" in short.stderr


def test_demo_data_is_added_once(write_config: Callable[..., Path]) -> None:
    config = write_config(sources=[{"name": "Sample calls", "url": "sample://calls.rss", "kind": "call"}])
    first = digest("init", "--demo", config=config)
    assert "5 subscribers added" in first.stdout and "with password" in first.stdout
    second = digest("init", "--demo", config=config)
    assert "0 subscribers added" in second.stdout and "with password" not in second.stdout
    assert len(digest_json("subscribers", "list", "--status", "active", config=config)) == 5
    items = digest_json("queue", "list", config=config)
    assert len(items) == len({item["url"] for item in items}) >= 10
