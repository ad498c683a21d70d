"""The queue and the item page: filters, the order of each kind, pages, approve / reject with a note /
feature / edit, in bulk too, the origin of every item, and an audit line for each action."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from lxml import html as lxml_html
from sqlalchemy import insert

from digest.models import Item
from digest.runtime import Runtime
from tests.editor_helpers import EDITOR, Desk, counted_queries, desk, item_row, trail, varied_items
from tests.factories import make_item


@pytest.fixture
def items(runtime: Runtime) -> dict[str, int]:
    return varied_items(runtime)


@pytest.fixture
def editor(app: Flask) -> Desk:
    return desk(app, EDITOR)


def titles(page: str) -> list[str]:
    return re.findall(r'<a class="title" href="/editor/items/\d+[^"]*">([^<]+)</a>', page)


def test_the_queue_lists_pending_items_newest_first_with_counts(editor: Desk, runtime: Runtime, items: dict) -> None:
    with runtime.sessions() as session, session.begin():
        make_item(session, "Already approved", status="approved")
    page = editor.page("/editor/")
    assert len(titles(page)) == 7 and "Already approved" not in titles(page)
    assert titles(page)[0] == "Agrifood cluster wins award"  # collected last
    assert re.search(r"Approved<span class=\"count\">1</span>", page)
    assert re.search(r"Pending<span class=\"count\">7</span>", page)
    assert titles(editor.page("/editor/?status=all")).count("Already approved") == 1


def test_each_kind_sorts_its_own_way(editor: Desk, items: dict) -> None:
    assert titles(editor.page("/editor/?kind=news")) == ["Textile cluster grows", "Hydrogen valley opens"]
    assert titles(editor.page("/editor/?kind=event")) == ["Battery forum in Graz", "Matchmaking days in Lyon"]
    calls = editor.page("/editor/?kind=call")
    assert titles(calls) == ["Call for digital SMEs", "Call for mobility pilots"]
    assert calls.count("Closing soon</span>") == 1
    assert calls.index("Closing soon</span>") < calls.index("Call for mobility pilots")
    assert titles(editor.page("/editor/?kind=call&sort=newest")) == [
        "Call for mobility pilots",
        "Call for digital SMEs",
    ]


def test_filters_by_origin_country_and_text(editor: Desk, items: dict, runtime: Runtime) -> None:
    submitted = editor.page("/editor/?origin=submission")
    assert titles(submitted) == ["Agrifood cluster wins award"]
    assert "Eleni Papadopoulou" in submitted and "eleni@agrifood.example.gr" in submitted
    with runtime.sessions() as session:
        events_feed = session.get(Item, items["early_event"]).source_id
    assert sorted(titles(editor.page(f"/editor/?origin={events_feed}"))) == [
        "Battery forum in Graz",
        "Matchmaking days in Lyon",
    ]
    assert titles(editor.page("/editor/?country=Portugal")) == ["Textile cluster grows"]
    assert titles(editor.page("/editor/?q=TEXTILE")) == ["Textile cluster grows"]
    assert titles(editor.page("/editor/?q=textile+portugal")) == ["Textile cluster grows"]  # every word must match
    assert titles(editor.page("/editor/?q=valley&kind=news")) == ["Hydrogen valley opens"]
    assert titles(editor.page("/editor/?q=100%25")) == []  # a % is searched for, not a wildcard
    assert "Feed: ECCP News" in editor.page("/editor/?kind=news")


def test_pages_of_fifty(editor: Desk, runtime: Runtime) -> None:
    now = datetime.now(UTC)
    with runtime.sessions() as session, session.begin():
        for number in range(120):
            make_item(session, f"Item {number:03d}", status="pending", collected_at=now - timedelta(minutes=number))
    first = editor.page("/editor/")
    assert titles(first)[0] == "Item 000" and len(titles(first)) == 50
    assert "Page 1 of 3" in first and 'href="?status=pending&amp;page=2"' in first
    last = editor.page("/editor/?page=3")
    assert titles(last) == [f"Item {n:03d}" for n in range(100, 120)]


def test_the_queue_page_asks_the_database_a_fixed_few_questions(editor: Desk, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        session.execute(
            insert(Item),
            [
                {"kind": "news", "status": "pending", "title": f"Bulk {n}", "summary": "", "dedup_key": str(n),
                 "content_hash": str(n), "origin": "submission" if n % 2 else "feed", "topics": []}
                for n in range(300)
            ],
        )  # fmt: skip
    with counted_queries(runtime) as statements:
        editor.page("/editor/?status=all")
    # the editor, the page, the counts, the page's submissions, the sources and countries: no query per item
    assert len(statements) <= 7, statements


def test_approve_reject_with_a_note_and_feature_leave_audit_lines(editor: Desk, runtime: Runtime, items: dict) -> None:
    news = items["new_news"]
    page = editor.follow("/editor/items/decide", {"ids": news, "decision": "approve", "back": "/editor/?kind=news"})
    assert "Approved 1 item" in page
    assert item_row(runtime, news).status == "approved" and item_row(runtime, news).approved_at is not None
    editor.follow(f"/editor/items/{news}/feature", {"featured": "1"})
    assert item_row(runtime, news).featured
    page = editor.follow("/editor/items/decide", {"ids": news, "decision": "reject", "note": "Duplicate of 12"})
    assert "Rejected 1 item with the note “Duplicate of 12”" in page
    rejected = item_row(runtime, news)
    assert rejected.status == "rejected" and rejected.editor_note == "Duplicate of 12" and rejected.approved_at is None
    lines = trail(runtime, "item", news)
    assert [line.action for line in lines] == ["item.approved", "item.featured", "item.rejected"]
    assert lines[-1].actor == EDITOR and lines[-1].detail == {"note": "Duplicate of 12"}
    item_page = editor.page(f"/editor/items/{news}")
    assert "rejected" in item_page and "Duplicate of 12" in item_page and f"{EDITOR}</strong> approved" in item_page


def test_the_form_goes_back_to_the_filtered_queue_it_came_from(editor: Desk, items: dict) -> None:
    back = "/editor/?kind=call&q=digital"
    response = editor.post("/editor/items/decide", {"ids": items["soon_call"], "decision": "approve", "back": back})
    assert response.status_code == 303 and response.headers["Location"] == back
    response = editor.post(
        "/editor/items/decide", {"ids": items["later_call"], "decision": "approve", "back": "//x.example"}
    )
    assert response.headers["Location"] == "/editor/"


def test_bulk_decisions_are_all_or_nothing(editor: Desk, runtime: Runtime, items: dict) -> None:
    ids = [items["old_news"], items["late_event"], items["later_call"]]
    assert "Approved 3 items" in editor.follow("/editor/items/decide", {"ids": ids, "decision": "approve"})
    assert {item_row(runtime, i).status for i in ids} == {"approved"}
    with runtime.sessions() as session, session.begin():
        session.get(Item, items["submitted"]).status = "published"
    page = editor.follow(
        "/editor/items/decide", {"ids": [items["early_event"], items["submitted"]], "decision": "reject"}
    )
    assert f"item {items['submitted']} is published; it can no longer be rejected" in page
    assert item_row(runtime, items["early_event"]).status == "pending"  # nothing changed
    assert "tick at least one item" in editor.follow("/editor/items/decide", {"decision": "approve"})
    assert [line.target_id for line in trail(runtime, "item")] == ids


def test_editing_an_item_sanitises_its_summary_and_reads_times_in_the_site_zone(
    editor: Desk, runtime: Runtime, items: dict
) -> None:
    call = items["later_call"]
    form = {
        "title": "  Call for <b>urban</b> mobility pilots ",
        "kind": "call",
        "url": "https://calls.example.eu/mobility?utm_source=feed",
        "organisation": "Mobility Cluster",
        "country": "Austria",
        "location": "",
        "published_at": "2026-11-02T09:00",
        "starts_at": "",
        "ends_at": "",
        "deadline": "2027-03-31T17:00",
        "summary": '<p onclick="x()">Apply <script>alert(1)</script><a href="javascript:bad()">now</a></p>',
    }
    page = editor.follow(f"/editor/items/{call}", form)
    assert "Saved: title, summary, url, organisation, country, published at, deadline." in page
    item = item_row(runtime, call)
    assert item.title == "Call for urban mobility pilots"
    assert item.published_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 09:00 in Brussels, winter time
    assert item.url == "https://calls.example.eu/mobility"  # tracking dropped, as for collected links
    assert item.deadline == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)  # 17:00 in Brussels, summer time
    assert "script" not in item.summary and "onclick" not in item.summary and "javascript" not in item.summary
    assert item.summary.startswith("<p>Apply")
    assert "Removed from the summary: HTML tags are not kept, write Markdown instead: &lt;a&gt;, &lt;p&gt;" in page
    assert 'value="2027-03-31T17:00"' in editor.page(f"/editor/items/{call}")
    [line] = trail(runtime, "item", call)
    assert line.action == "item.edited" and line.detail["deadline"]["to"] == "2027-03-31T15:00:00+00:00"
    assert "Nothing changed." in editor.follow(f"/editor/items/{call}", form)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": " "}, "an item needs a title"),
        ({"url": "ftp://files.example.eu/x"}, "is not an absolute http:// or https:// address"),
        ({"kind": "event", "starts_at": ""}, "an event needs its start"),
        ({"kind": "event", "starts_at": "2027-01-10T10:00", "ends_at": "2027-01-09T10:00"}, "cannot end before"),
        ({"deadline": "next tuesday"}, "is not a date and time"),
        ({"deadline": "2027-03-28T02:30"}, "does not exist in Europe/Brussels"),
        ({"kind": "podcast"}, "choose a kind"),
    ],
)
def test_an_edit_that_cannot_be_used_says_why_and_changes_nothing(
    editor: Desk, runtime: Runtime, items: dict, change: dict, message: str
) -> None:
    call = items["later_call"]
    before = item_row(runtime, call)
    form = {"title": "Changed title", "kind": "call", "url": "", "summary": "<p>x</p>", "deadline": ""} | change
    response = editor.post(f"/editor/items/{call}", form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert 'value="Changed title"' in response.get_data(as_text=True) or change.get("title")  # the form is kept
    after = item_row(runtime, call)
    assert (after.title, after.kind, after.deadline) == (before.title, before.kind, before.deadline)


def test_a_published_item_keeps_the_text_subscribers_got(editor: Desk, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_id = make_item(session, "Sent already", status="published").id
    page = editor.follow(f"/editor/items/{item_id}", {"title": "Rewritten", "kind": "news"})
    assert "went out in an edition" in page
    assert item_row(runtime, item_id).title == "Sent already"


def test_the_item_page_shows_the_origin_and_the_contact_of_a_submission(editor: Desk, items: dict) -> None:
    page = editor.page(f"/editor/items/{items['submitted']}")
    assert "A submission" in page and "Eleni Papadopoulou" in page and "Agrifood Hellas" in page
    assert 'href="mailto:eleni@agrifood.example.gr"' in page
    feed_page = editor.page(f"/editor/items/{items['old_news']}")
    assert "ECCP News" in feed_page
    assert editor.get("/editor/items/99999").status_code == 404


def test_no_link_on_the_pages_leads_to_a_script_or_another_site(editor: Desk, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_id = make_item(session, "Odd link", status="pending", url="javascript:alert(1)").id
    page = editor.page(f"/editor/items/{item_id}?back=javascript:alert(2)")
    assert 'href="javascript:' not in page and 'href="/editor/">← Queue' in page
    assert 'href="javascript:' not in editor.page("/editor/")
    assert 'href="//evil.example/editor/"' not in editor.page(f"/editor/items/{item_id}?back=//evil.example/editor/")


def item_form(page: str) -> dict[str, str]:
    """The item editor's form as the browser would send it untouched."""
    form = lxml_html.fromstring(page).cssselect('form[action*="/editor/items/"]')[-1]
    return {name: value or "" for name, value in form.form_values() if name != "csrf_token"}


def test_the_summary_is_edited_in_markdown_with_topics_and_saving_says_what_it_removed(
    editor: Desk, runtime: Runtime
) -> None:
    collected = '<p>Intro with <a href="https://a.example/x">a link</a>.</p><h3>Key dates</h3><img src="https://a.example/i.png">'
    with runtime.sessions() as session, session.begin():
        item_id = make_item(session, "Hydrogen valley", summary=collected, topics=["Energy"],
                            published_at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC)).id  # fmt: skip
    page = editor.page(f"/editor/items/{item_id}")
    assert "Intro with [a link](https://a.example/x).\n\n**Key dates**</textarea>" in page  # Markdown, not HTML
    assert 'name="topics" value="Energy"' in page

    untouched = item_form(page) | {"title": "Hydrogen valley opens"}
    saved = editor.follow(f"/editor/items/{item_id}", untouched)
    assert "Saved: title." in saved, re.findall(r'class="flash[^>]*>([^<]*)', saved)
    assert item_row(runtime, item_id).summary == collected  # typed back unchanged: the stored HTML stays

    typed = "Now **open**: [apply](https://a.example/apply)\n\n## Dates\n\n<h2>Old</h2>"
    form = untouched | {"summary": typed, "topics": "Energy, hydrogen , energy,Mobility"}
    done = editor.follow(f"/editor/items/{item_id}", form)
    assert "Saved: summary, topics." in done
    assert "headings are not kept" in done and "&lt;h2&gt;" in done and "image could not be kept" in done
    item = item_row(runtime, item_id)
    assert item.topics == ["Energy", "hydrogen", "Mobility"]  # plain, trimmed, each once
    assert '<strong>open</strong>' in item.summary and 'href="https://a.example/apply"' in item.summary
    assert "<h2>" not in item.summary and "<img" not in item.summary
    latest = trail(runtime, "item", item_id)[-1]
    assert latest.detail["topics"] == {"from": ["Energy"], "to": ["Energy", "hydrogen", "Mobility"]}


def test_too_many_topics_or_a_long_one_is_refused(editor: Desk, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_id = make_item(session, "Hydrogen valley").id
    form = item_form(editor.page(f"/editor/items/{item_id}"))
    many = editor.post(f"/editor/items/{item_id}", form | {"topics": ",".join(f"t{n}" for n in range(13))})
    assert many.status_code == 422 and "at most 12 topics" in many.get_data(as_text=True)
    long = editor.post(f"/editor/items/{item_id}", form | {"topics": "x" * 61})
    assert long.status_code == 422 and "at most 60 characters" in long.get_data(as_text=True)


def test_the_live_preview_shows_the_stored_html_and_what_saving_would_remove(editor: Desk, runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        item_id = make_item(session, "Hydrogen valley").id
    answer = editor.post(f"/editor/items/{item_id}/summary-preview",
                         {"summary": "**Bold** and [bad](javascript:alert(1)) <script>x</script>"})  # fmt: skip
    data = answer.get_json()
    assert "<strong>Bold</strong>" in data["html"]
    assert "javascript" not in data["html"] and "<script" not in data["html"]
    assert any("lost its address" in note for note in data["removed"])
    assert any("<script>" in note for note in data["removed"])
