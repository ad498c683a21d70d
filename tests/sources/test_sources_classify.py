"""Kind detection and deadline extraction."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from sources.classify import detect_kind, extract_deadline, parse_deadline_value

BRUSSELS = ZoneInfo("Europe/Brussels")


@pytest.mark.parametrize(
    ("categories", "title", "expected"),
    [
        (["Webinar", "Funding"], "Anything at all", "event"),
        (["Open Call"], "Vouchers for SMEs", "call"),
        (["Awards"], "Cluster of the year", "achievement"),
        ([], "Call for participants: matchmaking event in Lyon", "call"),
        ([], "Webinar on the new open call", "event"),
        ([], "Automotive cluster renews its Gold Label", "achievement"),
        ([], "Textile cluster wins EU award", "achievement"),
        ([], "Basque Energy Cluster signs agreement with Norway", "news"),
        (["Energy", "Policy"], "Recall of the year's highlights", "news"),  # "call" only as a whole word
    ],
)
def test_detect_kind(categories, title, expected) -> None:
    assert detect_kind(categories, title) == expected


def test_structure_beats_words() -> None:
    assert detect_kind(["Award"], "Award ceremony", is_event=True) == "event"
    assert detect_kind(["Webinar"], "Webinar", has_deadline=True) == "call"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Deadline: 31/12/2016", datetime(2016, 12, 31, 22, 59, 59, tzinfo=UTC)),
        ("Deadline: 01/12/2026 at 17:00 CET.", datetime(2026, 12, 1, 16, 0, tzinfo=UTC)),
        ("Deadline: 16/12/2026 (step 1, 12:00 CET).", datetime(2026, 12, 16, 11, 0, tzinfo=UTC)),
        ("Deadline: 09/12/2026 (23:59 Lisbon time).", datetime(2026, 12, 9, 23, 59, tzinfo=UTC)),
        ("Deadline: 21/12/2026, 17:00 Brussels time.", datetime(2026, 12, 21, 16, 0, tzinfo=UTC)),
        ("Submission deadline: 5 March 2027", datetime(2027, 3, 5, 22, 59, 59, tzinfo=UTC)),
        ("The call closes on 5 March 2027 at 17:00.", datetime(2027, 3, 5, 16, 0, tzinfo=UTC)),
        ("Apply by December 31, 2026", datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC)),
        ("deadline is 2027-01-05", datetime(2027, 1, 5, 22, 59, 59, tzinfo=UTC)),
        ("Deadline: 12/31/2026 (US order)", datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC)),
        ("Deadline - 15.01.2027 12:00 UTC", datetime(2027, 1, 15, 12, 0, tzinfo=UTC)),
        ("No date in this text", None),
        ("Deadline: 45/45/2026", None),
        ("Deadline: soon", None),
    ],
)
def test_extract_deadline(text, expected) -> None:
    assert extract_deadline(text, BRUSSELS) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-26T14:00:00+01:00", datetime(2026, 11, 26, 13, 0, tzinfo=UTC)),
        ("2026-11-26T14:00:00Z", datetime(2026, 11, 26, 14, 0, tzinfo=UTC)),
        ("2026-11-26", datetime(2026, 11, 26, 22, 59, 59, tzinfo=UTC)),
        ("26/11/2026", datetime(2026, 11, 26, 22, 59, 59, tzinfo=UTC)),
        ("Thu, 26 Nov 2026 17:00:00 GMT", datetime(2026, 11, 26, 17, 0, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_deadline_value(value, expected) -> None:
    assert parse_deadline_value(value, BRUSSELS) == expected
