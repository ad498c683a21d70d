"""Click statistics end to end: an edition sent to a real SMTP server, its links pulled out of the received
HTML and text parts and followed through the app (the Flask test client, and a real waitress server for
concurrent clicks), the redirects, the counts on the edition page and in `digest edition show --json`."""

from __future__ import annotations

import html
import re
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.editions.lifecycle import create_edition
from digest.models import Delivery, DeliveryClick, Edition, EditionLink, Subscriber
from digest.runtime import Runtime
from digest.subscribers.tokens import make_token
from tests.browser import serving
from tests.cli import digest, digest_json
from tests.conftest import TEST_SECRET
from tests.delivery_helpers import drain, smtp_runtime_for
from tests.editor_helpers import ADMIN, desk, make_app
from tests.factories import make_item, make_subscribers
from tests.smtpserver import RecordingHandler

BASE = "http://digest.test"
NEWS_URL = "https://clusters.example.eu/news/green-hydrogen"
PARTNER_URL = "https://partner.example.org/page?x=1&y=2"
EVENT_URL = "https://events.example.eu/summit"
CONTACT = "mailto:press@clusters.example.eu"
HREF = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"', re.I)
TEXT_URL = re.compile(r"(?:https?|mailto):[^\s<>\"']+")
READERS = 3


@dataclass
class Sent:
    runtime: Runtime
    app: Flask
    edition_id: int
    messages: dict[str, EmailMessage]  # by recipient

    def parts(self, address: str) -> tuple[str, str]:
        message = self.messages[address]
        rich = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        return rich, text

    def client(self) -> FlaskClient:
        return self.app.test_client()


def html_links(rich: str) -> list[str]:
    return [html.unescape(found) for found in HREF.findall(rich)]


def text_links(text: str) -> list[str]:
    return [found.rstrip(".,;:)") if found.count(")") > found.count("(") else found for found in TEXT_URL.findall(text)]


def tracked(links: list[str]) -> list[str]:
    return [link for link in links if link.startswith(f"{BASE}/l/")]


def path_of(url: str) -> str:
    return urlsplit(url).path


def send_edition(write_config: Callable[..., Path], handler: RecordingHandler, port: int, **analytics: Any) -> Sent:
    runtime = (
        smtp_runtime_for(write_config, port, analytics=analytics) if analytics else smtp_runtime_for(write_config, port)
    )
    with runtime.sessions() as session, session.begin():
        summary = (
            f'<p>Read the <a href="{html.escape(PARTNER_URL)}">partner page</a> '
            f'or write to <a href="{CONTACT}">the press office</a>.</p>'
        )
        make_item(session, "Green hydrogen valley opens", url=NEWS_URL, summary=summary)
        make_item(session, "The cluster summit", kind="event", url=EVENT_URL)
        make_subscribers(session, READERS)
        edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        start_sending(session, runtime.config, edition.id)
        edition_id = edition.id
    drain(runtime)
    messages = {received.recipients[0]: received.message for received in handler.received}
    assert len(messages) == READERS
    return Sent(runtime, make_app(runtime), edition_id, messages)


@pytest.fixture
def sent(write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int]) -> Iterator[Sent]:
    handler, port = smtp
    edition = send_edition(write_config, handler, port)
    yield edition
    edition.runtime.close()


@pytest.fixture
def sent_per_subscriber(write_config: Callable[..., Path], smtp: tuple[RecordingHandler, int]) -> Iterator[Sent]:
    handler, port = smtp
    edition = send_edition(write_config, handler, port, per_subscriber=True)
    yield edition
    edition.runtime.close()


def follow(client: FlaskClient, link: str, **kwargs: Any) -> Any:
    return client.get(path_of(link), **kwargs)


def clicks_by_url(runtime: Runtime, edition_id: int) -> dict[str, int]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(EditionLink.url, EditionLink.clicks).where(EditionLink.edition_id == edition_id)
        ).all()
    return dict(rows)


# --------------------------------------------------------------------------- the links in the email


def test_every_web_link_of_both_parts_redirects_to_the_edition_link_and_is_counted(sent: Sent) -> None:
    rich, text = sent.parts("reader0@example.org")
    in_html, in_text = tracked(html_links(rich)), tracked(text_links(text))
    assert in_html and in_text
    client = sent.client()
    targets: Counter[str] = Counter()
    for link in in_html + in_text:
        answer = follow(client, link)
        assert answer.status_code == 302
        targets[answer.headers["Location"]] += 1
    # The items' links, their summaries' links and the calendar link; the same URL has one token in both parts.
    assert {NEWS_URL, PARTNER_URL, EVENT_URL} <= set(targets)
    assert set(in_text) <= set(in_html)
    counts = clicks_by_url(sent.runtime, sent.edition_id)
    assert {url: counts[url] for url in targets} == dict(targets)
    # Nothing of the email's own words changed: readers still see where a link goes.
    assert "partner page" in rich and PARTNER_URL not in html_links(rich)


def test_without_per_subscriber_every_reader_gets_the_same_links_and_no_one_is_named(sent: Sent) -> None:
    links = [tracked(html_links(sent.parts(address)[0])) for address in sent.messages]
    assert all(found == links[0] for found in links)
    assert all(len(path_of(link).split("/")) == 3 for link in links[0])  # /l/<token>: no delivery in it
    client = sent.client()
    for link in links[1]:
        assert follow(client, link).status_code == 302
    with sent.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryClick)) == 0


def test_personal_links_view_in_browser_mailto_and_the_archive_copy_are_left_direct(sent: Sent) -> None:
    rich, text = sent.parts("reader1@example.org")
    with sent.runtime.sessions() as session:
        slug = session.get(Edition, sent.edition_id).slug
    archive = f"{BASE}/archive/{slug}"
    for links in (html_links(rich), text_links(text)):
        assert any(link.startswith(f"{BASE}/unsubscribe/") for link in links)
        assert any(link.startswith(f"{BASE}/preferences/") for link in links)
        assert archive in links  # view in browser
        assert not any("/l/" in link and "unsubscribe" in link for link in links)
    assert CONTACT in html_links(rich)
    for links in (html_links(rich), text_links(text)):  # every other web link is tracked
        direct = {link for link in links if link.startswith("http") and not link.startswith(f"{BASE}/l/")}
        assert {link.split("/")[3] if "/archive/" not in link else link for link in direct} == {
            "unsubscribe",
            "preferences",
            archive,
        }
    assert not any(link.startswith("mailto:") for link in tracked(html_links(rich)))
    copy = sent.client().get(f"/archive/{slug}")
    assert copy.status_code == 200
    page_links = html_links(copy.get_data(as_text=True))
    assert NEWS_URL in page_links and PARTNER_URL in page_links and EVENT_URL in page_links
    assert not any("/l/" in path_of(link) for link in page_links)


# --------------------------------------------------------------------------- bad tokens


def test_a_forged_or_tampered_token_is_404_and_never_a_redirect(sent: Sent) -> None:
    rich, _ = sent.parts("reader0@example.org")
    link = tracked(html_links(rich))[0]
    token = path_of(link).split("/")[2]
    client = sent.client()
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    payload = token.partition(".")[0]
    forged = [
        flipped,  # the signature altered
        f"{make_token(TEST_SECRET, 'click', f'{sent.edition_id}.1')[:-1]}",  # cut short
        make_token("another-secret-of-some-other-site", "click", f"{sent.edition_id}.1"),  # another secret
        make_token(TEST_SECRET, "unsubscribe", f"{sent.edition_id}.1"),  # a token for another purpose
        make_token(TEST_SECRET, "click", f"{sent.edition_id}.999"),  # a link the edition does not have
        make_token(TEST_SECRET, "click", f"{sent.edition_id + 1}.1"),  # an edition that does not exist
        make_token(TEST_SECRET, "click", "https://evil.example"),  # a URL where a number belongs
        "x" * 5000,
        f"{payload}",
        "",
    ]
    for bad in forged:
        answer = client.get(f"/l/{bad}")
        assert answer.status_code == 404, bad
        assert "Location" not in answer.headers
    # The target is never taken from the request, whatever it adds.
    answer = client.get(path_of(link) + "?url=https://evil.example&next=https://evil.example")
    assert answer.status_code == 302 and "evil" not in answer.headers["Location"]
    # A delivery tag that does not read makes the click unknown too.
    assert client.get(path_of(link) + "/not-a-delivery-token").status_code == 404
    assert sum(clicks_by_url(sent.runtime, sent.edition_id).values()) == 1


def test_head_requests_and_prefetchers_are_redirected_but_not_counted(sent: Sent) -> None:
    rich, _ = sent.parts("reader2@example.org")
    link = path_of(tracked(html_links(rich))[0])
    client = sent.client()
    assert client.head(link).status_code == 302
    for headers in (
        {"Sec-Purpose": "prefetch;prerender"},
        {"Purpose": "prefetch"},
        {"X-Moz": "prefetch"},
        {"User-Agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"},
        {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
        {"User-Agent": "facebookexternalhit/1.1"},
    ):
        assert client.get(link, headers=headers).status_code == 302
    assert sum(clicks_by_url(sent.runtime, sent.edition_id).values()) == 0
    browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    assert client.get(link, headers={"User-Agent": browser}).status_code == 302
    assert sum(clicks_by_url(sent.runtime, sent.edition_id).values()) == 1


# --------------------------------------------------------------------------- editors see them


def test_the_edition_page_and_edition_show_list_the_links_with_their_clicks(sent: Sent) -> None:
    rich, _ = sent.parts("reader0@example.org")
    by_target = {}
    client = sent.client()
    for link in set(tracked(html_links(rich))):  # a link shown twice (title, "Read more") has one token
        by_target[follow(client, link).headers["Location"]] = link
    for _ in range(2):
        follow(client, by_target[PARTNER_URL])
    page = desk(sent.app, ADMIN).page(f"/editor/editions/{sent.edition_id}")
    block = page[page.index('id="clicks"') :]
    rows = dict(re.findall(r"<tr><td[^>]*><a href=\"[^\"]*\"[^>]*>([^<]*)</a></td><td[^>]*>(\d+)</td></tr>", block))
    assert rows[html.escape(PARTNER_URL)] == "3" and rows[NEWS_URL] == "1" and rows[EVENT_URL] == "1"
    shown = digest_json("edition", "show", str(sent.edition_id), config=sent.runtime.config.path)
    clicks = {row["url"]: row["clicks"] for row in shown["clicks"]}
    assert clicks[PARTNER_URL] == 3 and clicks[NEWS_URL] == 1 and clicks[EVENT_URL] == 1
    assert shown["clicks"][0] == {"url": PARTNER_URL, "clicks": 3}  # most followed first


def test_the_preferences_page_says_clicks_are_counted_per_link_only(sent: Sent) -> None:
    preferences = next(link for link in html_links(sent.parts("reader0@example.org")[0]) if "/preferences/" in link)
    page = sent.client().get(path_of(preferences)).get_data(as_text=True)
    assert "counts how often each link is followed, not who followed it" in page


# --------------------------------------------------------------------------- per subscriber, when opted in


def test_per_subscriber_links_name_the_delivery_and_the_click_is_recorded_for_it(sent_per_subscriber: Sent) -> None:
    sent = sent_per_subscriber
    links = {address: tracked(html_links(sent.parts(address)[0])) for address in sent.messages}
    first, second = links["reader0@example.org"], links["reader1@example.org"]
    assert all(len(path_of(link).split("/")) == 4 for link in first)  # /l/<token>/<delivery>
    assert [path_of(a).split("/")[2] for a in first] == [path_of(b).split("/")[2] for b in second]  # same links
    assert first != second  # named apart
    text_first = tracked(text_links(sent.parts("reader0@example.org")[1]))
    assert set(text_first) <= set(first)
    client = sent.client()
    assert follow(client, first[0]).status_code == 302
    assert follow(client, first[0]).status_code == 302
    assert follow(client, second[0]).status_code == 302
    with sent.runtime.sessions() as session:
        rows = session.execute(
            select(Subscriber.email, DeliveryClick.clicks)
            .join(Delivery, Delivery.id == DeliveryClick.delivery_id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        ).all()
    assert sorted(rows) == [("reader0@example.org", 2), ("reader1@example.org", 1)]
    assert sum(clicks_by_url(sent.runtime, sent.edition_id).values()) == 3
    # One reader's delivery tag on a link of another edition does not read.
    token = make_token(TEST_SECRET, "click", f"{sent.edition_id + 1}.1")
    assert client.get(f"/l/{token}/{path_of(first[0]).split('/')[3]}").status_code == 404
    preferences = next(link for link in html_links(sent.parts("reader0@example.org")[0]) if "/preferences/" in link)
    page = client.get(path_of(preferences)).get_data(as_text=True)
    assert "records which links you followed from your copy" in page


def clicks_by_reader(runtime: Runtime) -> list[tuple[str, int]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Subscriber.email, DeliveryClick.clicks)
            .join(Delivery, Delivery.id == DeliveryClick.delivery_id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        ).all()
    return sorted(rows)


def test_forgetting_a_reader_erases_their_clicks_and_records_none_after(sent_per_subscriber: Sent) -> None:
    sent = sent_per_subscriber
    first = tracked(html_links(sent.parts("reader0@example.org")[0]))
    second = tracked(html_links(sent.parts("reader1@example.org")[0]))
    client = sent.client()
    for link in (first[0], first[1], second[0]):
        assert follow(client, link).status_code == 302
    assert clicks_by_reader(sent.runtime) == [("reader0@example.org", 1), ("reader0@example.org", 1),
                                              ("reader1@example.org", 1)]  # fmt: skip

    digest("subscribers", "forget", "reader0@example.org", config=sent.runtime.config.path)

    assert clicks_by_reader(sent.runtime) == [("reader1@example.org", 1)]
    [line] = [entry for entry in digest_json("audit", "list", config=sent.runtime.config.path)
              if entry["action"] == "subscriber.forgotten"]  # fmt: skip
    assert line["detail"] == {"clicks_erased": 2}
    assert follow(client, first[0]).status_code == 302  # the copy they kept still works, and counts for the edition
    assert clicks_by_reader(sent.runtime) == [("reader1@example.org", 1)]  # but nobody's click is recorded
    assert sum(clicks_by_url(sent.runtime, sent.edition_id).values()) == 4


# --------------------------------------------------------------------------- switched off, bounded


def test_with_clicks_off_the_links_go_direct(write_config: Callable[..., Path], smtp) -> None:
    handler, port = smtp
    sent = send_edition(write_config, handler, port, clicks=False)
    try:
        rich, text = sent.parts("reader0@example.org")
        assert not tracked(html_links(rich)) and not tracked(text_links(text))
        assert NEWS_URL in html_links(rich) and PARTNER_URL in text_links(text)
        assert clicks_by_url(sent.runtime, sent.edition_id) == {}
    finally:
        sent.runtime.close()


def test_the_redirect_is_rate_limited_per_client(write_config: Callable[..., Path], smtp) -> None:
    handler, port = smtp
    sent = send_edition(write_config, handler, port, clicks_per_minute=3)
    try:
        link = path_of(tracked(html_links(sent.parts("reader0@example.org")[0]))[0])
        client = sent.client()
        assert [client.get(link).status_code for _ in range(4)] == [302, 302, 302, 429]
        assert client.get(link).headers["Retry-After"].isdigit()
        assert sum(clicks_by_url(sent.runtime, sent.edition_id).values()) == 3
    finally:
        sent.runtime.close()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_concurrent_clicks_through_a_real_server_are_all_counted(sent: Sent) -> None:
    rich, _ = sent.parts("reader0@example.org")
    link = path_of(tracked(html_links(rich))[0])
    opener = urllib.request.build_opener(_NoRedirects)
    threads, each = 8, 10
    start = threading.Barrier(threads)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def click_many(base: str) -> None:
        start.wait()
        for _ in range(each):
            try:
                opener.open(base + link, timeout=30)
            except urllib.error.HTTPError as answer:  # a 302 not followed arrives as an HTTPError
                with lock:
                    answers.append((answer.code, answer.headers["Location"]))
                answer.close()

    with serving(sent.app, threads=threads) as base:
        workers = [threading.Thread(target=click_many, args=(base,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
    assert len(answers) == threads * each
    assert {code for code, _ in answers} == {302}
    target = answers[0][1]
    assert clicks_by_url(sent.runtime, sent.edition_id)[target] == threads * each
