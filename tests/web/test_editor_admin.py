"""The admins' pages: sources (add, edit, switch off, health, collect now), subscribers (search, status
and history, add, unsubscribe, CSV import with its rejected rows, CSV export), editors' accounts, and
the audit trail."""

from __future__ import annotations

import csv
import io
import re

from flask import Flask
from sqlalchemy import select

from digest.models import Editor, Item, Source, Subscriber
from digest.runtime import Runtime
from tests.editor_helpers import ADMIN, EDITOR, Desk, log_in, trail
from tests.factories import make_subscribers
from tests.feedserver import FeedServer


def source_named(runtime: Runtime, name: str) -> Source | None:
    with runtime.sessions() as session:
        return session.scalar(select(Source).where(Source.name == name))


def subscriber_named(runtime: Runtime, email: str) -> Subscriber | None:
    with runtime.sessions() as session:
        return session.scalar(select(Subscriber).where(Subscriber.email == email))


def flashes(page: str) -> list[str]:
    return re.findall(r'<div class="flash[^"]*" role="\w+">([^<]*)</div>', page)


# --------------------------------------------------------------------------- sources


def test_adding_a_source_and_collecting_it_now(admin: Desk, runtime: Runtime, feed_server: FeedServer) -> None:
    feed = feed_server.url("/rss2.rss")
    page = admin.follow("/editor/sources", {"name": "Cluster feed", "url": feed, "kind": "news"})
    assert "Added the source “Cluster feed”" in page
    source = source_named(runtime, "Cluster feed")
    page = admin.follow(f"/editor/sources/{source.id}/collect")
    [message] = flashes(page)
    assert re.match(r"Collected “Cluster feed”: \d+ entries, [1-9]\d* new", message), message
    with runtime.sessions() as session:
        items = session.scalars(select(Item).where(Item.source_id == source.id)).all()
        assert items and {item.status for item in items} == {"pending"}
    assert "ok" in page and "Cluster feed" in page
    assert [line.action for line in trail(runtime, "source", source.id)] == ["source.added", "source.collected"]


def test_a_failing_source_shows_its_error_and_backoff(admin: Desk, runtime: Runtime) -> None:
    admin.follow("/editor/sources", {"name": "Broken", "url": "http://127.0.0.1:9/feed.rss", "kind": "auto"})
    source = source_named(runtime, "Broken")
    page = admin.follow(f"/editor/sources/{source.id}/collect", {"back": "source"})
    assert "Collecting “Broken” failed" in page
    failed = source_named(runtime, "Broken")
    assert failed.consecutive_errors == 1 and failed.next_fetch_at is not None
    assert "backing off, in " in page and "Failures in a row" in page
    assert "error" in admin.page("/editor/sources")


def test_adding_a_source_that_cannot_work_says_why(admin: Desk, runtime: Runtime) -> None:
    assert "is not a feed URL" in admin.follow("/editor/sources", {"name": "X", "url": "gopher://x", "kind": "news"})
    assert "unknown kind &#39;podcast&#39;" in admin.follow(
        "/editor/sources", {"name": "X", "url": "https://x.example/f", "kind": "podcast"}
    )
    assert source_named(runtime, "X") is None


def test_editing_and_switching_a_source_off(admin: Desk, runtime: Runtime) -> None:
    admin.follow("/editor/sources", {"name": "News", "url": "https://old.example/feed", "kind": "news"})
    source_id = source_named(runtime, "News").id
    with runtime.sessions() as session, session.begin():
        stale = session.get(Source, source_id)
        stale.etag, stale.consecutive_errors = '"abc"', 3
    page = admin.follow(
        f"/editor/sources/{source_id}", {"name": "ECCP News", "url": "https://new.example/feed", "kind": "auto"}
    )
    assert "Saved the name, url, kind of “ECCP News”." in page
    edited = source_named(runtime, "ECCP News")
    assert (edited.url, edited.kind, edited.etag, edited.consecutive_errors) == (
        "https://new.example/feed",
        "auto",
        None,
        0,
    )
    assert "switched off" in admin.follow(f"/editor/sources/{source_id}/enabled", {"enabled": "0"})
    assert source_named(runtime, "ECCP News").enabled is False
    admin.follow(f"/editor/sources/{source_id}/enabled", {"enabled": "1"})
    assert source_named(runtime, "ECCP News").enabled is True
    actions = [line.action for line in trail(runtime, "source", source_id)]
    assert actions == ["source.added", "source.edited", "source.disabled", "source.enabled"]
    assert "changed name, url, kind" in admin.page(f"/editor/sources/{source_id}")


# --------------------------------------------------------------------------- subscribers


def test_searching_subscribers_by_address_name_and_status(admin: Desk, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 60)
        make_subscribers(session, 2, status="bounced", prefix="bounce")
    page = admin.page("/editor/subscribers")
    assert "Page 1 of 2" in page and re.search(r"Bounced<span class=\"count\">2</span>", page)
    assert (
        re.findall(r">(reader\d+@example.org)<", admin.page("/editor/subscribers?q=reader5"))[-1]
        == "reader5@example.org"
    )
    assert len(re.findall(r">(reader5\d@example.org)<", admin.page("/editor/subscribers?q=reader5"))) == 10
    assert "reader1@example.org" in admin.page("/editor/subscribers?q=Reader+1")
    bounced = admin.page("/editor/subscribers?status=bounced")
    assert "bounce0@example.org" in bounced and "reader0@example.org" not in bounced


def test_adding_and_unsubscribing_a_subscriber_leaves_history(admin: Desk, runtime: Runtime) -> None:
    page = admin.follow("/editor/subscribers", {"email": "Marie@Example.org", "name": "Marie", "confirmed": "1"})
    assert "Added marie@example.org (active)." in page
    assert "is already a subscriber" in admin.follow("/editor/subscribers", {"email": "marie@example.org"})
    marie = subscriber_named(runtime, "marie@example.org")
    page = admin.follow(f"/editor/subscribers/{marie.id}/unsubscribe")
    assert "Unsubscribed marie@example.org" in page
    gone = subscriber_named(runtime, "marie@example.org")
    assert gone.status == "unsubscribed" and gone.unsubscribed_at is not None
    assert "Left" in page and f"{ADMIN}</strong> unsubscribed" in page
    assert "nothing to do" in admin.follow(f"/editor/subscribers/{marie.id}/unsubscribe")
    assert [line.action for line in trail(runtime, "subscriber", marie.id)] == [
        "subscriber.added",
        "subscriber.unsubscribed",
    ]


def test_importing_a_csv_reports_each_rejected_row(admin: Desk, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 1, status="unsubscribed", prefix="left")
    upload = (
        b"email,name,status\n"
        b"ana@example.org,Ana,active\n"
        b"not-an-address,Bad,active\n"
        b"left0@example.org,Came back,active\n"
        b"jan@example.org,Jan,maybe\n"
    )
    response = admin.post(
        "/editor/subscribers/import",
        {"file": (io.BytesIO(upload), "list.csv")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Imported list.csv" in page
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td></tr>", page)
    assert [line for line, _ in rows] == ["3", "4", "5"]
    assert "not a valid email address" in rows[0][1]
    assert "never re-activated" in rows[1][1] and "status &#39;maybe&#39;" in rows[2][1]
    assert subscriber_named(runtime, "ana@example.org").status == "active"
    assert subscriber_named(runtime, "left0@example.org").status == "unsubscribed"
    [line] = trail(runtime, "subscriber")
    assert line.action == "subscribers.imported" and line.detail["rejected"] == 3 and line.detail["added"] == 1


def test_an_import_without_an_email_column_or_not_in_utf8_is_refused(admin: Desk) -> None:
    page = admin.post(
        "/editor/subscribers/import",
        {"file": (io.BytesIO(b"name\nAna\n"), "names.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "needs a header row with at least an &#39;email&#39; column" in page
    latin = admin.post(
        "/editor/subscribers/import",
        {"file": (io.BytesIO("email,name\nj@example.org,Jos\xe9\n".encode("latin-1")), "l.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "not UTF-8 text" in latin


def test_exporting_subscribers_as_csv(admin: Desk, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        make_subscribers(session, 3)
    response = admin.get("/editor/subscribers/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="subscribers-')
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["email"] for row in rows] == ["reader0@example.org", "reader1@example.org", "reader2@example.org"]
    assert trail(runtime, "subscriber")[0].detail == {"rows": 3}


# --------------------------------------------------------------------------- editors' accounts


def test_admins_add_editors_change_roles_and_remove_them(app: Flask, admin: Desk, runtime: Runtime) -> None:
    page = admin.follow("/editor/editors", {"email": "new@example.org", "password": "long enough pw", "role": "editor"})
    assert "Added editor new@example.org" in page
    assert "at least 10 characters" in admin.follow(
        "/editor/editors", {"email": "x@example.org", "password": "short", "role": "editor"}
    )
    assert log_in(app.test_client(), "new@example.org", "long enough pw").status_code == 302
    with runtime.sessions() as session:
        new_id = session.scalar(select(Editor.id).where(Editor.email == "new@example.org"))
    assert "is now an admin" in admin.follow(f"/editor/editors/{new_id}/role", {"role": "admin"})
    assert "Removed new@example.org." in admin.follow(f"/editor/editors/{new_id}/remove")
    assert log_in(app.test_client(), "new@example.org", "long enough pw").status_code == 401
    actions = [line.action for line in trail(runtime, "editor", new_id)]
    assert actions[0] == "editor.added" and actions[-2:] == ["editor.role_changed", "editor.removed"]


def test_the_last_admin_stays_and_nobody_removes_themselves(admin: Desk, runtime: Runtime) -> None:
    with runtime.sessions() as session:
        admin_id = session.scalar(select(Editor.id).where(Editor.email == ADMIN))
        editor_id = session.scalar(select(Editor.id).where(Editor.email == EDITOR))
    assert "is the last admin" in admin.follow(f"/editor/editors/{admin_id}/role", {"role": "editor"})
    assert "cannot remove your own account" in admin.follow(f"/editor/editors/{admin_id}/remove")
    admin.follow(f"/editor/editors/{editor_id}/role", {"role": "admin"})
    assert admin.post(f"/editor/editors/{admin_id}/role", {"role": "editor"}).status_code == 303
    refused = admin.get("/editor/editors")  # the change applies at once
    assert refused.status_code == 403 and "is now an editor" in refused.get_data(as_text=True)


def test_the_audit_trail_lists_every_action_newest_first(admin: Desk, runtime: Runtime) -> None:
    admin.follow("/editor/subscribers", {"email": "ana@example.org"})
    admin.follow("/editor/sources", {"name": "Feed", "url": "https://feed.example/rss", "kind": "news"})
    page = admin.page("/editor/audit")
    rows = re.findall(r"<td>(admin@example.org)</td>\s*<td>([^<]+)", page)
    assert [what.strip() for _, what in rows] == ["added", "added", "logged in"]
    assert "/editor/sources/" in page and "/editor/subscribers/" in page
    assert "1 lines by editor@example.org" not in admin.page("/editor/audit?actor=editor@example.org")
