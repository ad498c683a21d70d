"""Formula injection (issue 13, item 4): a cell of the subscribers' CSV export that a spreadsheet would
run as a formula (=, +, -, @, tab, CR first) starts with a single quote instead, from the web and the CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select

from digest.models import Subscriber
from digest.runtime import Runtime
from digest.subscribers.roster import from_spreadsheet_cell, spreadsheet_cell
from tests.cli import digest
from tests.editor_helpers import Desk
from tests.factories import make_subscribers

NAMES = {
    "reader0@example.org": '=HYPERLINK("http://evil.example","x")',
    "reader1@example.org": "+1+cmd|' /C calc'!A0",
    "reader2@example.org": "-2+3",
    "reader3@example.org": "@SUM(1+1)",
    "reader4@example.org": "\t=1+1",
    "reader5@example.org": "\r=1+1",
    "reader6@example.org": "Ada Lovelace - the first",
}


def named(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, len(NAMES))
        for subscriber in session.scalars(select(Subscriber)):
            subscriber.name = NAMES[subscriber.email]


def names_in(exported: str) -> dict[str, str]:
    return {row["email"]: row["name"] for row in csv.DictReader(io.StringIO(exported, newline=""))}  # keeps a CR


def expected() -> dict[str, str]:
    return {email: name if name.startswith("Ada") else "'" + name for email, name in NAMES.items()}


def test_the_web_export_neutralises_formulas(admin: Desk, runtime: Runtime) -> None:
    named(runtime)
    response = admin.get("/editor/subscribers/export.csv")
    assert response.status_code == 200
    assert names_in(response.get_data(as_text=True)) == expected()


def test_the_cli_export_neutralises_formulas(runtime: Runtime, tmp_path: Path) -> None:
    named(runtime)
    out = tmp_path / "subscribers.csv"
    digest("subscribers", "export", "--out", str(out), config=runtime.config.path)
    assert names_in(out.read_bytes().decode("utf-8")) == expected()
    assert names_in(digest("subscribers", "export", config=runtime.config.path).stdout)["reader0@example.org"] == (
        "'" + NAMES["reader0@example.org"]
    )


def test_every_formula_start_is_neutralised() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert spreadsheet_cell(f"{start}1+1") == f"'{start}1+1"
    assert spreadsheet_cell("") == "" and spreadsheet_cell("a=1") == "a=1" and spreadsheet_cell("'=x") == "'=x"


def test_an_export_read_back_in_keeps_the_names_it_had(runtime: Runtime, tmp_path: Path) -> None:
    named(runtime)
    out = tmp_path / "subscribers.csv"
    digest("subscribers", "export", "--out", str(out), config=runtime.config.path)
    with runtime.sessions() as session, session.begin():
        for subscriber in session.scalars(select(Subscriber)):
            subscriber.name = "renamed meanwhile"

    digest("subscribers", "import", str(out), config=runtime.config.path)

    with runtime.sessions() as session:
        assert {s.email: s.name for s in session.scalars(select(Subscriber))} == NAMES
    assert from_spreadsheet_cell("'=1+1") == "=1+1" and from_spreadsheet_cell("'quoted") == "'quoted"
