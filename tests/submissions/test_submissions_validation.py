"""Every field's rules, through the JSON API and the form alike: the same submission is refused by both
with the same message, shown next to its field on the form (input kept) and as {field, message} by
the API; what passes is stored cleaned (plain-text fields, sanitised summary, canonical links, UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.runtime import Runtime
from tests.submissions.helpers import Site, error_of, field_error_on_page, local, running_site, valid


@pytest.fixture
def site(runtime: Runtime) -> Iterator[Site]:
    with running_site(runtime) as site:
        yield site


def years_ahead(years: int) -> str:
    return (datetime.now(UTC) + timedelta(days=366 * years)).strftime("%Y-%m-%dT%H:%M")


# (kind, field, value, message fragment); value None leaves the field out
REFUSED = [
    ("news", "kind", None, "Choose what you are sending"),
    ("news", "kind", "podcast", "Choose what you are sending"),
    ("news", "title", None, "Enter a title."),
    ("news", "title", "   ", "Enter a title."),
    ("news", "title", "<script>alert(1)</script>", "Enter a title."),
    ("news", "title", "T" * 201, "at most 200 characters (it has 201)"),
    ("news", "summary", None, "Write a short summary."),
    ("news", "summary", "S" * 3001, "at most 3,000 characters (it has 3,001)"),
    ("news", "url", "javascript:alert(1)", "starting with http:// or https://"),
    ("news", "url", "ftp://files.example.eu/call.pdf", "starting with http:// or https://"),
    ("news", "url", "www.example.eu/no-scheme", "starting with http:// or https://"),
    ("news", "url", "https://user:secret@example.eu/", "starting with http:// or https://"),
    ("news", "image_url", "data:image/png;base64,iVBORw0KGgo=", "starting with http:// or https://"),
    ("news", "image_url", "/images/relative.png", "starting with http:// or https://"),
    ("news", "url", "https://cluster.example.eu/" + "a" * 2030, "at most 2,048 characters (it has 2,057)"),
    ("news", "url", "https://cluster.example.eu/" + "é" * 1000, "too long: at most 2,048 characters once encoded"),
    ("news", "organisation", None, "Enter your organisation's name."),
    ("news", "organisation", "O" * 301, "at most 300 characters"),
    ("news", "country", "C" * 101, "at most 100 characters"),
    ("news", "contact_name", None, "Enter your name."),
    ("news", "contact_name", "N" * 201, "at most 200 characters"),
    ("news", "contact_email", None, "Enter your email address."),
    ("news", "contact_email", "not-an-address", "Enter a valid email address"),
    ("news", "contact_email", "ane@localhost", "Enter a valid email address"),
    ("news", "contact_email", "ane etxe@example.eu", "Enter a valid email address"),
    ("news", "contact_email", '"<script>"@example.eu', "Enter a valid email address"),
    ("event", "starts_at", None, "Enter the start."),
    ("event", "starts_at", "next tuesday", "is not a date and time such as 2026-12-03 09:00"),
    ("event", "starts_at", years_ahead(4), "more than three years away"),
    ("event", "ends_at", local(19), "must end after it starts"),
    ("event", "ends_at", "soon", "is not a date and time"),
    ("event", "ends_at", local(20 + 400), "lasts more than a year"),
    ("event", "timezone", "Mars/Olympus_Mons", "is not a time zone"),
    ("event", "timezone", "../../etc/passwd", "is not a time zone"),
    ("event", "location", "L" * 301, "at most 300 characters"),
    ("call", "deadline", None, "Enter the deadline."),
    ("call", "deadline", local(-1), "The deadline has passed"),
    ("call", "deadline", "31/12/2026", "is not a date and time"),
    ("call", "deadline", years_ahead(4), "more than three years away"),
]


CASE_IDS = [f"{field}:{str(value)[:20]}" for _kind, field, value, _message in REFUSED]


def without(fields: dict, name: str) -> dict:
    return {key: value for key, value in fields.items() if key != name}


def case(kind: str, field: str, value: str | None) -> dict:
    fields = valid(kind)
    return without(fields, field) if value is None else fields | {field: value}


@pytest.mark.parametrize(("kind", "field", "value", "message"), REFUSED, ids=CASE_IDS)
def test_the_api_refuses_with_the_field_and_a_clear_message(site: Site, kind, field, value, message) -> None:
    response = site.api(case(kind, field, value))

    assert response.status_code == 422
    assert any(message in text for text in error_of(response, field)), response.get_json()
    assert site.submissions() == [] and site.items() == []


@pytest.mark.parametrize(("kind", "field", "value", "message"), REFUSED, ids=CASE_IDS)
def test_the_form_refuses_the_same_with_the_message_next_to_the_field(site: Site, kind, field, value, message) -> None:
    response = site.form(case(kind, field, value))
    page = response.get_data(as_text=True)

    assert response.status_code == 400
    shown = field_error_on_page(page, field)
    assert shown is not None and message in shown.replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">")
    assert 'aria-invalid="true"' in page and 'role="alert"' in page  # the summary at the top lists it too
    assert site.submissions() == [] and site.items() == []


def test_the_form_keeps_what_was_typed_when_it_refuses(site: Site) -> None:
    fields = valid("event", contact_email="not-an-address", summary="Line one\nLine two")
    page = site.form(fields).get_data(as_text=True)

    for name in ("title", "url", "image_url", "organisation", "country", "contact_name", "location"):
        assert f'value="{fields[name]}"' in page, name
    assert 'value="not-an-address"' in page
    assert f'value="{fields["starts_at"]}"' in page and f'value="{fields["ends_at"]}"' in page
    assert "Line one\nLine two</textarea>" in page
    assert 'checked id="kind-1"' in page  # the event
    assert '<option selected value="Europe/Madrid">' in page


def test_an_event_already_over_or_started_without_end_is_refused(site: Site) -> None:
    over = site.api(valid("event", starts_at=local(-3), ends_at=local(-2)))
    started = site.api(valid("event", starts_at=local(-1), ends_at=None))
    running = site.api(valid("event", starts_at=local(-1), ends_at=local(2)))

    assert error_of(over, "ends_at") == ["This event is already over."]
    assert "in the past" in error_of(started, "starts_at")[0]
    assert running.status_code == 201  # still running: its end is ahead


def test_a_time_the_clocks_skip_is_refused(site: Site) -> None:
    gap = datetime(datetime.now(UTC).year + 1, 3, 28)  # the last Sunday of March is on or before the 31st
    while gap.weekday() != 6 or (gap + timedelta(days=7)).month == 3:
        gap += timedelta(days=1)
    response = site.api(valid("event", starts_at=f"{gap:%Y-%m-%d}T02:30", ends_at=None, timezone="Europe/Brussels"))

    assert "does not exist in Europe/Brussels" in error_of(response, "starts_at")[0]


@pytest.mark.parametrize(
    ("zone", "moment"), [("America/New_York", "9999-12-31T23:59"), ("Asia/Tokyo", "0001-01-01T00:00")]
)
def test_dates_at_the_ends_of_the_calendar_are_refused_not_crashed_on(site: Site, zone: str, moment: str) -> None:
    response = site.api(valid("call", timezone=zone, deadline=moment))

    assert error_of(response, "deadline") == [f"“{moment}” is not a date anyone can attend."]


def test_times_are_read_in_the_submissions_time_zone_and_stored_in_utc(site: Site) -> None:
    start, end = local(20), local(21, 17)
    response = site.api(valid("event", starts_at=start, ends_at=end, timezone="America/New_York"))

    assert response.status_code == 201
    [item] = site.items()
    zone = ZoneInfo("America/New_York")
    assert item.starts_at == datetime.fromisoformat(start).replace(tzinfo=zone).astimezone(UTC)
    assert item.ends_at == datetime.fromisoformat(end).replace(tzinfo=zone).astimezone(UTC)
    assert item.timezone == "America/New_York"


def test_a_deadline_given_as_a_day_lasts_to_its_end_and_an_offset_is_honoured(site: Site) -> None:
    day = (datetime.now(UTC) + timedelta(days=40)).date()
    by_day = site.api(valid("call", deadline=day.isoformat(), timezone="Europe/Lisbon", url="https://a.example.eu/1"))
    with_offset = site.api(valid("call", title="Another open call for pilots", deadline=f"{day}T17:00:00+02:00",
                                 url="https://a.example.eu/2"))  # fmt: skip

    assert by_day.status_code == with_offset.status_code == 201
    first, second = site.items()
    assert first.deadline == datetime.combine(day, datetime.max.time(), ZoneInfo("Europe/Lisbon")).replace(
        microsecond=0
    ).astimezone(UTC)
    assert second.deadline == datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)


def test_the_time_zone_defaults_to_the_sites(site: Site) -> None:
    assert site.api(without(valid("call"), "timezone")).status_code == 201
    [submission] = site.submissions()
    assert submission.payload["timezone"] == "Europe/Brussels"


def test_fields_of_another_kind_are_ignored_not_refused(site: Site) -> None:
    response = site.api(valid("news", starts_at="whenever", deadline="never", timezone="Nowhere", location="Mars"))

    assert response.status_code == 201
    [item] = site.items()
    assert (item.starts_at, item.deadline, item.location, item.timezone) == (None, None, None, None)


def test_what_passes_is_stored_cleaned(site: Site) -> None:
    response = site.api(valid(
        "news",
        title="  Hydrogen   valley\t<b>opens</b> its doors  ",  # (a line break is refused: test_api_errors)
        summary="Plain text\r\nwith lines, **bold** and [a link](https://cluster.example.eu/more?utm_source=x).",
        url="HTTPS://Cluster.Example.EU:443/news/h2?utm_campaign=autumn&id=7#top",
        contact_email="Ane@Cluster.Example.EU",
        organisation="Basque <i>Hydrogen</i> Cluster",
    ))  # fmt: skip

    assert response.status_code == 201
    [item] = site.items()
    [submission] = site.submissions()
    assert item.title == "Hydrogen valley opens its doors"
    assert item.summary == (
        '<p>Plain text<br> with lines, <strong>bold</strong> and <a href="https://cluster.example.eu/more" '
        'rel="noopener noreferrer nofollow">a link</a>.</p>'
    )
    assert item.url == "https://cluster.example.eu/news/h2?id=7"
    assert item.organisation == submission.organisation == "Basque Hydrogen Cluster"
    assert submission.contact_email == "Ane@cluster.example.eu"  # the domain lower-cased, the mailbox as given


def test_a_summary_of_exactly_3000_characters_and_a_title_of_200_pass(site: Site) -> None:
    response = site.api(valid("achievement", title="T" * 200, summary="S" * 3000))

    assert response.status_code == 201
    [item] = site.items()
    assert len(item.title) == 200 and item.summary == f"<p>{'S' * 3000}</p>"


def test_line_ends_sent_by_browsers_count_once(site: Site) -> None:
    summary = ("x" * 99 + "\r\n") * 30  # 3,000 characters as typed, 3,090 bytes with the CRLFs browsers send
    response = site.form(valid("news", summary=summary.strip() + "x"))

    assert response.status_code == 200, field_error_on_page(response.get_data(as_text=True), "summary")


@pytest.mark.parametrize("alias", ["call", "open call", "Open_Call"])
def test_open_call_is_accepted_under_its_everyday_names(site: Site, alias: str) -> None:
    assert site.api(valid("call") | {"kind": alias}).status_code == 201
    assert [item.kind for item in site.items()] == ["call"]


def test_control_characters_never_reach_the_database(site: Site) -> None:
    fields = valid("event")
    sent = {name: value + "\x00\x1b" for name, value in fields.items() if name not in ("kind", "timezone")}
    response = site.api(fields | sent | {"contact_email": fields["contact_email"], "starts_at": fields["starts_at"],
                                         "ends_at": fields["ends_at"]})  # fmt: skip

    assert response.status_code == 201, response.get_json()
    [item] = site.items()
    [submission] = site.submissions()
    for value in (item.title, item.summary, item.url, item.image_url, item.organisation, item.country, item.location,
                  submission.contact_name, *map(str, submission.payload.values())):  # fmt: skip
        assert "\x00" not in value and "\x1b" not in value
