"""Clean input: control characters never reach the database (PostgreSQL refuses NUL: a 500 before), numbers
too large for it are 400/404, and a busy database is 503 with Retry-After, never a bare 500."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from digest.db import make_engine
from digest.models import Base, Submission, Subscriber
from digest.runtime import Runtime
from tests.cli import digest
from tests.editor_helpers import ADMIN, csrf_token, desk
from tests.submissions.helpers import valid

NUL = "\x00"
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_controls_stored(runtime: Runtime) -> None:
    with runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                assert not CONTROLS.search(str(tuple(row)).replace("\\x00", "\x00")), (table.name, row)


# --------------------------------------------------------------------------- forms and the JSON API


@pytest.mark.parametrize("field", ["email", "name", "topics", "language", "editions"])
def test_a_nul_in_a_subscribe_form_field_is_never_a_500(runtime: Runtime, app: Flask, field: str) -> None:
    client = app.test_client()
    token = csrf_token(client.get("/subscribe").get_data(as_text=True))
    data = {"email": "nul@example.org", "name": "Nul Person", "editions": ["digest"], "language": "en"}
    data[field] = f"{data.get(field, 'health')}{NUL}x"
    response = client.post("/subscribe", data={**data, "csrf_token": token})
    assert response.status_code in (200, 400)
    no_controls_stored(runtime)


@pytest.mark.parametrize("field", ["email", "name", "topics", "language", "editions"])
def test_a_nul_in_a_subscribe_json_field_is_never_a_500(runtime: Runtime, app: Flask, field: str) -> None:
    body: dict[str, object] = {"email": "nul@example.org", "name": "Nul Person", "language": "en"}
    body[field] = [f"health{NUL}"] if field in ("topics", "editions") else f"{body.get(field, '')}{NUL}x"
    response = app.test_client().post("/subscribe", json=body)
    assert response.status_code in (202, 422)  # a refused field is a validation error, never a 500
    no_controls_stored(runtime)


def test_a_nul_in_the_preferences_form_is_removed(runtime: Runtime, app: Flask) -> None:
    from digest.audit import SYSTEM
    from digest.delivery.message import site_links
    from digest.subscribers.roster import add_subscriber
    from tests.conftest import TEST_SECRET

    with runtime.sessions() as session, session.begin():
        uid = add_subscriber(session, SYSTEM, "prefs@example.org", "Pref", confirmed=True).uid
    path = site_links("http://digest.test", TEST_SECRET).preferences_url(uid).removeprefix("http://digest.test")
    client = app.test_client()
    token = csrf_token(client.get(path).get_data(as_text=True))
    data = {"action": "save", "name": f"Pre{NUL}f\x07", "editions": ["digest"], "topics": [f"he{NUL}alth"]}
    response = client.post(path, data={**data, "language": "en", "csrf_token": token})
    assert response.status_code in (200, 302, 303)
    with runtime.sessions() as session:
        assert session.scalar(select(Subscriber.name).where(Subscriber.uid == uid)) == "Pref"
    no_controls_stored(runtime)


SUBMISSION_FIELDS = [field for field in valid("event") if field != "kind"] + ["kind"]


@pytest.mark.parametrize("field", SUBMISSION_FIELDS)
def test_a_nul_in_a_submission_api_field_is_never_a_500(runtime: Runtime, app: Flask, field: str) -> None:
    body = valid("event")
    body[field] = f"{body[field][:3]}{NUL}{body[field][3:]}"
    response = app.test_client().post("/api/submissions", json=body)
    assert response.status_code in (201, 422), response.get_data(as_text=True)
    no_controls_stored(runtime)
    if response.status_code == 201 and field in ("contact_name", "organisation"):
        with runtime.sessions() as session:
            stored = session.scalars(select(Submission)).one()
            assert getattr(stored, field) == valid("event")[field]


@pytest.mark.parametrize("field", SUBMISSION_FIELDS)
def test_a_nul_in_a_submission_form_field_is_never_a_500(runtime: Runtime, app: Flask, field: str) -> None:
    client = app.test_client()
    token = csrf_token(client.get("/submit").get_data(as_text=True))
    data = valid("event")
    data[field] = f"{data[field][:3]}{NUL}{data[field][3:]}"
    response = client.post("/submit", data={**data, "csrf_token": token})
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    no_controls_stored(runtime)


def test_a_lone_surrogate_from_json_is_never_a_500(runtime: Runtime, app: Flask) -> None:
    body = '{"email": "s@example.org", "name": "Sur\\ud800rogate"}'
    response = app.test_client().post("/subscribe", data=body, content_type="application/json")
    assert response.status_code == 202
    api = valid(title="A title \ud800 with a surrogate")
    raw = __import__("json").dumps(api)
    response = app.test_client().post("/api/submissions", data=raw, content_type="application/json")
    assert response.status_code in (201, 422)


# --------------------------------------------------------------------------- CSV import


def test_an_import_keeps_every_good_row_around_a_nul_row(runtime: Runtime, tmp_path: Path) -> None:
    rows = [f"person{n}@example.org,Person {n}" for n in range(100)]
    rows.insert(50, f"bad@example.org,Bad{NUL}Row")
    source = tmp_path / "people.csv"
    source.write_text("email,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = digest("subscribers", "import", str(source), config=runtime.config.path, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "100 added, 0 updated, 0 unchanged, 1 rejected" in result.stdout
    assert "line 52: column 'name' holds a control character" in result.stdout
    with runtime.sessions() as session:
        emails = set(session.scalars(select(Subscriber.email)))
    assert len(emails) == 100 and "bad@example.org" not in emails
    no_controls_stored(runtime)


def test_an_import_row_the_database_refuses_loses_no_other_row(runtime: Runtime) -> None:
    import io

    from digest.audit import SYSTEM
    from digest.subscribers.roster import import_csv

    with runtime.engine.begin() as connection:  # a constraint the row checks do not know about
        connection.execute(text("CREATE UNIQUE INDEX only_one_lang ON subscribers (language) WHERE language = 'fr'"))
    body = "email,language\n" + "".join(f"p{n}@example.org,{'fr' if n in (3, 7) else 'en'}\n" for n in range(10))
    report = import_csv(runtime.sessions, SYSTEM, io.StringIO(body), "people.csv")
    assert (report.added, [line for line, _ in report.rejected]) == (9, [9])
    assert "the database refused this row" in report.rejected[0][1]


# --------------------------------------------------------------------------- out-of-range numbers

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/editor/items/{HUGE}",
        f"/editor/editions/{HUGE}",
        f"/editor/subscribers/{HUGE}",
        f"/editor/sources/{HUGE}",
        f"/editor/?page={HUGE}",
        f"/editor/audit?page={HUGE}",
        f"/editor/subscribers?page={HUGE}",
        f"/editor/?origin={HUGE}",
        f"/archive/?page={HUGE}",
        f"/editor/items/{2**31}",
    ],
)
def test_huge_numbers_in_the_address_are_400_or_404(runtime: Runtime, app: Flask, path: str) -> None:
    response = desk(app, ADMIN).get(path)
    assert response.status_code in (200, 400, 404), (path, response.status_code)


# --------------------------------------------------------------------------- a busy database


def use_engine(runtime: Runtime, engine: Engine) -> None:
    runtime.engine.dispose()
    runtime.__dict__["engine"] = engine
    runtime.__dict__.pop("sessions", None)


@contextmanager
def locked_database(runtime: Runtime) -> Iterator[None]:
    """Another connection holds the write lock; the app's connections give up at once instead of waiting."""
    url = runtime.config.database_url
    if make_url(url).get_backend_name() == "sqlite":
        holder = sqlite3.connect(make_url(url).database, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        use_engine(runtime, create_engine(url, connect_args={"timeout": 0}))
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    holder_engine = create_engine(url)
    with holder_engine.connect() as holder:
        holder.execute(text("LOCK TABLE subscribers, submissions, items IN ACCESS EXCLUSIVE MODE"))
        options = f"{make_url(url).query.get('options', '')} -c lock_timeout=50".strip()
        use_engine(runtime, make_engine(url, connect_args={"options": options}))
        try:
            yield
        finally:
            holder.rollback()
    holder_engine.dispose()


def test_a_locked_database_is_503_with_retry_after(runtime: Runtime, app: Flask) -> None:
    client = app.test_client()
    with locked_database(runtime):
        api = client.post("/api/submissions", json=valid())
        subscribe = client.post("/subscribe", json={"email": "busy@example.org"})
    assert api.status_code == 503 and int(api.headers["Retry-After"]) > 0
    assert api.get_json()["errors"][0]["message"].startswith("The database is busy")
    assert subscribe.status_code == 503 and "Retry-After" in subscribe.headers


# --------------------------------------------------------------------------- every other way in


@pytest.mark.parametrize(
    "path",
    [
        "/archive/search?q=hydro%00gen",
        "/editor/login?next=/editor/%00",
        "/archive/?page=1%07",
        "/subscribe?email=a%00@b.eu",
    ],
)
def test_a_control_character_in_a_query_string_is_400(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    assert response.status_code == 400
    assert "control character" in response.get_data(as_text=True)


def test_a_control_character_in_a_path_is_404(app: Flask) -> None:
    assert app.test_client().get("/archive/edition%00one").status_code == 404


def test_a_nul_in_the_login_form_is_refused_not_a_500(app: Flask) -> None:
    client = app.test_client()
    token = csrf_token(client.get("/editor/login").get_data(as_text=True))
    response = client.post("/editor/login", data={"email": f"{ADMIN}{NUL}", "password": "x", "csrf_token": token})
    assert response.status_code == 422
    assert "control character" in response.get_data(as_text=True)


def test_a_nul_in_an_editors_form_is_refused_and_stores_nothing(runtime: Runtime, app: Flask) -> None:
    admin = desk(app, ADMIN)
    response = admin.post(
        "/editor/sources", {"name": f"Hydrogen{NUL}", "url": "https://h2.example.org/feed", "kind": "news"}
    )
    assert response.status_code == 422
    no_controls_stored(runtime)
    assert "Hydrogen" not in admin.client.get("/editor/sources").get_data(as_text=True)
