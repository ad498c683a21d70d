"""The rewrite itself: which links are tracked, how a URL is cut out of running text, and that the size
check that keeps an email under Gmail's clipping limit measures the links subscribers actually get."""

from __future__ import annotations

from digest.analytics.links import DELIVERY_MARKER, split_trailing, tracker
from digest.audit import SYSTEM
from digest.editions.compose import compose, email_size
from digest.editions.lifecycle import create_edition
from digest.rendering.render import PLACEHOLDERS
from digest.runtime import Runtime
from tests.conftest import TEST_SECRET
from tests.edition_helpers import MONDAY, forty_item_week

ARCHIVE = "https://digest.test/archive/weekly-1"


def test_only_web_links_that_are_not_personal_or_the_archive_copy_are_tracked() -> None:
    links = tracker("https://digest.test/", TEST_SECRET, 7, [ARCHIVE], per_delivery=False)
    assert links.tracks("https://clusters.example.eu/news?a=1&b=2")
    assert links.tracks("HTTP://CLUSTERS.EXAMPLE.EU/")
    for direct in (
        ARCHIVE,
        PLACEHOLDERS["unsubscribe_url"],
        PLACEHOLDERS["preferences_url"],
        f"https://digest.test/x?{PLACEHOLDERS['name']}",
        "mailto:someone@example.org",
        "tel:+3221234567",
        "javascript:alert(1)",
        "ftp://files.example.org/a",
        "https://",
        "https://" + "a" * 2100 + ".example",
        "http://[::1",  # urlsplit refuses it
    ):
        assert not links.tracks(direct), direct


def test_a_url_in_running_text_loses_the_punctuation_around_it_only() -> None:
    assert split_trailing("https://a.example/b.") == ("https://a.example/b", ".")
    assert split_trailing("https://a.example/b).") == ("https://a.example/b", ").")
    assert split_trailing("https://en.example/Wiki_(page)") == ("https://en.example/Wiki_(page)", "")
    assert split_trailing("https://a.example/?q=1,") == ("https://a.example/?q=1", ",")


def test_the_same_url_gets_one_number_in_both_parts_and_escaping_is_undone_and_redone() -> None:
    links = tracker("https://digest.test", TEST_SECRET, 7, [ARCHIVE], per_delivery=True)
    rich = '<a href="https://a.example/?x=1&amp;y=2">A</a> <a href="https://b.example/">B</a>'
    text = "A (https://a.example/?x=1&y=2). B: https://b.example/ C: https://c.example/"
    tracked = links.track(rich, text)
    assert tracked.urls == ("https://a.example/?x=1&y=2", "https://b.example/", "https://c.example/")
    first = links.link_url(1)
    assert first.endswith(f"/{DELIVERY_MARKER}") and first.startswith("https://digest.test/l/")
    assert f'href="{first}"' in tracked.html and f"A ({first})." in tracked.text
    assert "a.example" not in tracked.html + tracked.text


def test_the_size_check_measures_the_tracked_links_subscribers_get(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        forty_item_week(session)
        edition = create_edition(session, runtime.config, SYSTEM, "digest", now=MONDAY).require()
        composed = compose(runtime.config, edition, MONDAY, track=True)
        assert composed.links and "/l/" in composed.html
        assert composed.kept == composed.total  # not trimmed: its size is that of what is sent
        assert composed.size == email_size(composed.html)
        direct = compose(runtime.config, edition, MONDAY, track=False)
        assert direct.size == composed.size and "/l/" not in direct.html  # a preview is measured the same
