"""The subscription pages through the real web app, with emails landing in the outbox folder:
double opt-in, tokens, preferences, change of address, one-click unsubscribe, export, forget-me."""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from wtforms.i18n import get_translations

from digest.audit import SYSTEM
from digest.config import Config, load_config
from digest.delivery.ledger import start_sending
from digest.editions.lifecycle import create_edition
from digest.models import Subscriber, Suppression
from digest.runtime import Runtime
from digest.subscribers.roster import import_csv
from digest.subscribers.subscriptions import Choices, SubscriptionError, update_preferences
from digest.web import create_app
from digest.web.language import use_language
from tests.cli import digest
from tests.conftest import TEST_SECRET
from tests.delivery_helpers import drain
from tests.factories import make_item

BASE = "http://digest.test"


@dataclass
class Site:
    app: Flask
    runtime: Runtime
    outbox: Path

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def mails_to(self, address: str) -> list[EmailMessage]:
        """Every message the outbox holds for the address, oldest first, once the mailer is idle."""
        self.app.extensions["digest.mailer"].flush()
        files = sorted(self.outbox.glob(f"{address}-*.eml"), key=lambda path: path.stat().st_mtime_ns)
        return [BytesParser(policy=policy.default).parsebytes(path.read_bytes()) for path in files]

    def subscriber(self, email: str) -> Subscriber | None:
        with self.runtime.sessions() as session:
            return session.scalar(select(Subscriber).where(Subscriber.email == email))


@pytest.fixture
def config(write_config: Callable[..., Path]) -> Config:
    """These tests subscribe more often from one test client than the default limit per client allows."""
    return load_config(write_config(limits={"subscribe_per_hour": 100}), environ={})


@pytest.fixture
def site(runtime: Runtime) -> Iterator[Site]:
    app = create_app(runtime)
    yield Site(app, runtime, runtime.config.outbox_dir)
    app.extensions["digest.mailer"].close()


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def link(message: EmailMessage, path: str) -> str:
    return re.search(rf"{BASE}(/{path}/\S+)", message.get_content()).group(1)


def subscribe_by_form(client: FlaskClient, email: str, **fields: object) -> tuple[int, str]:
    token = csrf(client.get("/subscribe").get_data(as_text=True))
    data = {"email": email, "editions": ["digest", "newsletter"], "language": "en", "csrf_token": token} | fields
    response = client.post("/subscribe", data=data)
    return response.status_code, response.get_data(as_text=True)


def subscribe_confirmed(site: Site, email: str, **fields: object) -> Subscriber:
    client = site.client()
    assert subscribe_by_form(client, email, **fields)[0] == 200
    assert client.post(link(site.mails_to(email.lower())[-1], "confirm")).status_code == 200
    subscriber = site.subscriber(email.lower())
    assert subscriber.status == "active"
    return subscriber


def preferences_path(site: Site, subscriber: Subscriber) -> str:
    from digest.delivery.message import site_links

    return site_links(BASE, TEST_SECRET).preferences_url(subscriber.uid).removeprefix(BASE)


def preferences_form(site: Site, subscriber: Subscriber) -> tuple[FlaskClient, str, str]:
    """A visitor opening the subscriber's preferences page: their client, the page's path and its form token."""
    client = site.client()
    path = preferences_path(site, subscriber)
    return client, path, csrf(client.get(path).get_data(as_text=True))


def unsubscribe_path(site: Site, subscriber: Subscriber) -> str:
    from digest.delivery.message import site_links

    return site_links(BASE, TEST_SECRET).unsubscribe_url(subscriber.uid).removeprefix(BASE)


# --------------------------------------------------------------------------- double opt-in


def test_a_form_that_cannot_be_used_says_why_beside_each_field(site: Site) -> None:
    status, page = subscribe_by_form(site.client(), "broken-address", language="xx")

    assert status == 400
    assert re.findall(r'<span class="field-error">([^<]+)</span>', page) == [
        "Invalid email address.",
        "Not a valid choice.",
    ]
    assert site.subscriber("broken-address") is None

    subscriber = subscribe_confirmed(site, "ines@example.org")
    client, path, token = preferences_form(site, subscriber)
    data = {"action": "save", "name": "Inês", "editions": ["digest"], "language": "xx", "csrf_token": token}
    page = client.post(path, data=data).get_data(as_text=True)
    assert re.findall(r'<span class="field-error">([^<]+)</span>', page) == ["Not a valid choice."]
    assert site.subscriber("ines@example.org").preferences["editions"] == ["digest", "newsletter"]



def test_subscribing_sends_a_link_and_only_the_link_activates(site: Site) -> None:
    client = site.client()
    status, page = subscribe_by_form(
        client, "Ana.Ferreira@Example.org", name="Ana Ferreira", editions=["digest"], language="es"
    )
    assert status == 200 and "Check your inbox" in page
    waiting = site.subscriber("ana.ferreira@example.org")
    assert waiting.status == "pending" and waiting.confirmed_at is None
    [mail] = site.mails_to("ana.ferreira@example.org")
    assert mail["Subject"] == "Confirme su suscripción a Test Cluster Platform"  # in the language she chose
    assert mail["From"].addresses[0].addr_spec == "digest@digest.test"
    confirm = link(mail, "confirm")
    payload = confirm.rsplit("/", 1)[1].split(".")[0]  # signed, not secret: it carries the random uid only
    assert json.loads(base64.urlsafe_b64decode(payload + "==")).split(".")[0] == waiting.uid

    asked = client.get(confirm)  # what a mail scanner following the link sees: a button, nothing done
    assert asked.status_code == 200 and "Confirmar mi suscripción</button>" in asked.get_data(as_text=True)
    assert '<form method="post"' in asked.get_data(as_text=True)
    assert client.head(confirm).status_code == 200
    assert site.subscriber("ana.ferreira@example.org").status == "pending"

    page = site.client().post(confirm)  # no session, no CSRF token: the token in the path is the proof
    assert page.status_code == 200 and "Su suscripción está confirmada" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    active = site.subscriber("ana.ferreira@example.org")
    assert active.status == "active" and active.confirmed_at is not None
    assert (active.name, active.language, active.preferences) == (
        "Ana Ferreira",
        "es",
        {"editions": ["digest"], "topics": []},
    )
    assert client.post(confirm).status_code == 200  # a second click changes nothing
    assert len(site.mails_to("ana.ferreira@example.org")) == 1


def test_the_answer_never_tells_whether_an_address_is_subscribed(site: Site) -> None:
    subscribe_confirmed(site, "active@example.org", name="Kept Name")
    gone = subscribe_confirmed(site, "gone@example.org")
    forgotten = subscribe_confirmed(site, "forgotten@example.org")
    client = site.client()
    client.post(unsubscribe_path(site, gone), data={"List-Unsubscribe": "One-Click"})
    forget_token = csrf(client.get(preferences_path(site, forgotten)).get_data(as_text=True))
    client.post(
        preferences_path(site, forgotten), data={"action": "forget", "confirm": "y", "csrf_token": forget_token}
    )
    before = {address: len(site.mails_to(address)) for address in ("active@example.org", "gone@example.org")}
    before["forgotten@example.org"] = len(site.mails_to("forgotten@example.org"))

    addresses = ("new@example.org", "active@example.org", "gone@example.org", "forgotten@example.org")
    answers = []
    for address in addresses:
        response = site.client().post(
            "/subscribe", json={"email": address, "name": "Someone Else", "editions": ["newsletter"]}
        )
        answers.append((response.status_code, response.get_json()))
    assert all(answer == answers[0] for answer in answers) and answers[0][0] == 202
    pages = {subscribe_by_form(site.client(), address)[1] for address in addresses}
    assert len(pages) == 1  # the form's answer is the same page, byte for byte

    assert site.mails_to("new@example.org")[0]["Subject"].startswith("Confirm your subscription")
    [already] = site.mails_to("active@example.org")[before["active@example.org"] :][:1]
    assert already["Subject"] == "You are already subscribed to Test Cluster Platform"
    assert "/preferences/" in already.get_content()
    assert site.mails_to("gone@example.org")[before["gone@example.org"]]["Subject"].startswith("Confirm")
    assert len(site.mails_to("forgotten@example.org")) == before["forgotten@example.org"]  # never mailed again
    unchanged = site.subscriber("active@example.org")  # a request changes nothing of an active subscriber
    assert unchanged.name == "Kept Name" and unchanged.preferences["editions"] == ["digest", "newsletter"]
    bad = site.client().post("/subscribe", json={"email": "not an address"})
    assert bad.status_code == 422 and "not a valid email address" in bad.get_json()["errors"][0]["message"]
    nothing = site.client().post("/subscribe", json={"email": "picky@example.org", "editions": []})
    assert nothing.status_code == 422 and nothing.get_json()["errors"] == [
        {"field": "editions", "message": "Choose at least one kind of edition: digest or newsletter."}
    ]
    forged = site.client().post("/subscribe", data={"email": "victim@example.org", "editions": ["digest"]})
    assert forged.status_code == 400 and site.subscriber("victim@example.org") is None  # a form needs its CSRF token


def test_resubscribing_after_unsubscribing_asks_for_a_new_confirmation(site: Site) -> None:
    client = site.client()
    subscriber = subscribe_confirmed(site, "back@example.org")
    old_confirm = link(site.mails_to("back@example.org")[0], "confirm")
    assert client.post(unsubscribe_path(site, subscriber), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert site.subscriber("back@example.org").status == "unsubscribed"

    stale = client.post(old_confirm)  # the link from before does not bring them back
    assert stale.status_code == 400 and "before you unsubscribed" in stale.get_data(as_text=True)
    assert site.subscriber("back@example.org").status == "unsubscribed"

    subscribe_by_form(client, "back@example.org")
    assert site.subscriber("back@example.org").status == "unsubscribed"  # not before the new confirmation
    fresh = link(site.mails_to("back@example.org")[-1], "confirm")
    assert fresh != old_confirm and client.post(fresh).status_code == 200
    assert site.subscriber("back@example.org").status == "active"


def test_expired_forged_and_misused_tokens_are_refused(site: Site) -> None:
    client = site.client()
    subscribe_by_form(client, "late@example.org")
    waiting = site.subscriber("late@example.org")

    class ThreeDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3 * 24 * 3600

    expired = URLSafeTimedSerializer(TEST_SECRET, salt="digest.timed.confirm", signer=ThreeDaysAgo).dumps(
        f"{waiting.uid}.0"
    )
    for method in (client.get, client.post):
        page = method(f"/confirm/{expired}")
        assert page.status_code == 400 and "expired" in page.get_data(as_text=True)
    assert site.subscriber("late@example.org").status == "pending"

    genuine = link(site.mails_to("late@example.org")[0], "confirm")
    forged = genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB")
    other_key = URLSafeTimedSerializer("another-secret-key-0123456789", salt="digest.timed.confirm").dumps(waiting.uid)
    unsigned = "/confirm/" + base64.urlsafe_b64encode(b'"' + waiting.uid.encode() + b'"').decode()
    for bad in (forged, f"/confirm/{other_key}", unsigned):
        assert client.get(bad).status_code == 400
        assert client.post(bad).status_code == 400

    preferences_token = preferences_path(site, waiting).rsplit("/", 1)[1]
    assert client.get(f"/unsubscribe/{preferences_token}").status_code == 404  # a token for another purpose
    assert client.post(f"/unsubscribe/{preferences_token}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert client.get(f"/confirm/{preferences_token}").status_code == 400
    assert client.post(f"/confirm/{preferences_token}").status_code == 400
    assert site.subscriber("late@example.org").status == "pending"


# --------------------------------------------------------------------------- one-click unsubscribe


def test_one_click_unsubscribe_as_rfc_8058_describes(site: Site) -> None:
    runtime = site.runtime
    for n in range(3):
        subscribe_confirmed(site, f"reader{n}@example.org")
    with runtime.sessions() as session, session.begin():
        make_item(session, "News for the one-click test")
        edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        start_sending(session, runtime.config, edition.id)
    drain(runtime)
    [message] = [m for m in site.mails_to("reader0@example.org") if "List-Unsubscribe" in m]
    # The test site is http, so the header is left out (RFC 8058 wants https; tests/delivery checks https);
    # the endpoint still answers a provider's one-click POST.
    assert message["List-Unsubscribe-Post"] is None
    url = message["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"{BASE}/unsubscribe/") and "reader0" not in url
    path = url.removeprefix(BASE)

    looked_at = site.client().get(path)  # a link checker's GET unsubscribes nobody
    assert looked_at.status_code == 200 and "<button" in looked_at.get_data(as_text=True)
    assert site.subscriber("reader0@example.org").status == "active"

    provider = site.app.test_client(use_cookies=False)  # as a mailbox provider posts: no cookie, no CSRF token
    response = provider.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and "Location" not in response.headers
    assert site.subscriber("reader0@example.org").status == "unsubscribed"
    assert site.subscriber("reader0@example.org").unsubscribed_at is not None
    assert (
        provider.post(
            path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )  # idempotent

    second = unsubscribe_path(site, site.subscriber("reader1@example.org"))
    multipart = provider.post(second, data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data")
    assert multipart.status_code == 200 and site.subscriber("reader1@example.org").status == "unsubscribed"

    third = unsubscribe_path(site, site.subscriber("reader2@example.org"))
    assert provider.post(third, data={}).status_code == 400  # neither one-click nor the page's button
    assert site.subscriber("reader2@example.org").status == "active"
    browser = site.client()
    token = csrf(browser.get(third).get_data(as_text=True))
    assert browser.post(third, data={"csrf_token": token}).status_code == 200  # the page's button
    assert site.subscriber("reader2@example.org").status == "unsubscribed"


# --------------------------------------------------------------------------- preferences


def test_preferences_choose_editions_topics_and_language(site: Site) -> None:
    runtime = site.runtime
    with runtime.sessions() as session, session.begin():
        make_item(session, "Health news", topics=["Health", "Biotech"])
    subscriber = subscribe_confirmed(site, "chooser@example.org")
    client = site.client()
    path = preferences_path(site, subscriber)
    page = client.get(path).get_data(as_text=True)
    assert 'value="Health"' in page and 'value="Biotech"' in page and "chooser@example.org" in page

    saved = client.post(
        path,
        data={
            "action": "save",
            "name": "Chooser",
            "editions": ["newsletter"],
            "topics": ["Health"],
            "language": "fr",
            "csrf_token": csrf(page),
        },
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith(path)
    assert "Vos préférences sont enregistrées." in client.get(path).get_data(as_text=True)  # now in French
    stored = site.subscriber("chooser@example.org")
    assert (stored.name, stored.language) == ("Chooser", "fr")
    assert stored.preferences == {"editions": ["newsletter"], "topics": ["Health"]}
    assert (stored.wanted_editions, stored.wanted_topics) == ("|newsletter|", "|health|")

    nothing = client.post(path, data={"action": "save", "language": "fr", "csrf_token": csrf(page)})
    assert nothing.status_code == 400 and "choisissez au moins un type d’édition" in nothing.get_data(as_text=True)
    no_token = client.post(path, data={"action": "save", "editions": ["digest"], "language": "en"})
    assert no_token.status_code == 400 and site.subscriber("chooser@example.org").preferences["editions"] == [
        "newsletter"
    ]
    with runtime.sessions() as session, session.begin():  # a digest no longer goes to them
        edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        assert start_sending(session, runtime.config, edition.id) == 0


def test_changing_the_address_takes_effect_only_once_the_new_one_confirms(site: Site) -> None:
    subscriber = subscribe_confirmed(site, "old@example.org")
    subscribe_confirmed(site, "taken@example.org")
    client = site.client()
    path = preferences_path(site, subscriber)

    def ask(new_email: str) -> int:
        token = csrf(client.get(path).get_data(as_text=True))
        return client.post(path, data={"action": "email", "new_email": new_email, "csrf_token": token}).status_code

    assert ask("first-choice@example.org") == 303
    assert ask("new@example.org") == 303
    assert site.subscriber("old@example.org").pending_email == "new@example.org"
    first_link = link(site.mails_to("first-choice@example.org")[0], "confirm")
    assert client.post(first_link).status_code == 400  # an older request's link does not confirm the newer address
    [mail] = site.mails_to("new@example.org")
    assert mail["Subject"].startswith("Confirm your new address")
    assert client.get(link(mail, "confirm")).status_code == 200
    assert site.subscriber("old@example.org").pending_email == "new@example.org"  # the page alone changes nothing
    confirmed = client.post(link(mail, "confirm"))
    assert confirmed.status_code == 200 and "new@example.org" in confirmed.get_data(as_text=True)
    assert site.subscriber("old@example.org") is None
    moved = site.subscriber("new@example.org")
    assert moved.id == subscriber.id and moved.pending_email is None and moved.status == "active"

    before = len(site.mails_to("taken@example.org"))
    assert ask("taken@example.org") == 303  # the page says the same; nothing is sent
    assert len(site.mails_to("taken@example.org")) == before
    assert site.subscriber("new@example.org").pending_email is None


def test_export_my_data_as_json(site: Site) -> None:
    subscriber = subscribe_confirmed(site, "curious@example.org", name="Curious Reader")
    client, path, token = preferences_form(site, subscriber)
    response = client.post(path, data={"action": "export", "csrf_token": token})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["email"] == "curious@example.org" and data["name"] == "Curious Reader"
    assert data["status"] == "active" and data["preferences"]["editions"] == ["digest", "newsletter"]
    assert data["confirmed_at"] and data["deliveries"] == []


def test_forget_me_erases_the_person_and_keeps_only_a_suppression_hash(site: Site) -> None:
    subscriber = subscribe_confirmed(site, "Erase.Me@Example.org", name="Erase Me")
    client, path, token = preferences_form(site, subscriber)
    unticked = client.post(path, data={"action": "forget", "csrf_token": token})
    assert unticked.status_code == 400 and site.subscriber("erase.me@example.org") is not None

    done = client.post(path, data={"action": "forget", "confirm": "y", "csrf_token": token})
    assert done.status_code == 200 and "Your data is erased" in done.get_data(as_text=True)
    assert site.subscriber("erase.me@example.org") is None
    with site.runtime.sessions() as session:
        row = session.get(Subscriber, subscriber.id)
        assert row.email.startswith("forgotten-") and row.email.endswith("@erased.invalid")
        assert (row.name, row.preferences, row.status, row.uid == subscriber.uid) == (None, {}, "unsubscribed", False)
        [suppression] = session.scalars(select(Suppression)).all()
        assert suppression.email_hash == hashlib.sha256(b"erase.me@example.org").hexdigest()
    assert client.get(path).status_code == 404  # every link ever sent stops working

    rows = io.StringIO("email,name\nERASE.ME@example.org,Erase Me\n")
    report = import_csv(site.runtime.sessions, SYSTEM, rows, "people.csv")
    assert report.added == 0 and report.rejected == [
        (2, "erase.me@example.org asked to be forgotten; it is never added again")
    ]
    assert subscribe_by_form(site.client(), "erase.me@example.org")[0] == 200
    assert site.mails_to("erase.me@example.org") == []  # the old confirmation went with her data; no new one
    added = digest("subscribers", "add", "erase.me@example.org", config=site.runtime.config.path, check=False)
    assert added.returncode == 1 and "asked to be forgotten" in added.stderr
    exported = digest("subscribers", "export", config=site.runtime.config.path).stdout
    assert "erased.invalid" not in exported


# --------------------------------------------------------------------------- errors in the reader's language


def page_text(html: str) -> str:
    return html_lib.unescape(html)


@pytest.mark.parametrize(
    ("language", "domain_error", "form_expired"),
    [
        ("es", "elija al menos un tipo de edición, o dese de baja", "Este formulario ha caducado"),
        ("fr", "choisissez au moins un type d’édition, ou désabonnez-vous", "Ce formulaire a expiré"),
        ("de", "wählen Sie mindestens eine Art von Ausgabe oder bestellen Sie ab", "Dieses Formular ist abgelaufen"),
    ],
)
def test_a_preferences_page_says_what_is_wrong_in_the_readers_language(
    site: Site, language: str, domain_error: str, form_expired: str
) -> None:
    subscriber = subscribe_confirmed(site, f"reader-{language}@example.org", language=language)
    client, path, token = preferences_form(site, subscriber)

    nothing = client.post(path, data={"action": "save", "language": language, "csrf_token": token})
    assert nothing.status_code == 400
    assert domain_error in page_text(nothing.get_data(as_text=True))  # the domain's rule, worded by the page
    assert "choose at least one kind" not in nothing.get_data(as_text=True)

    wtforms = get_translations([language])  # the messages WTForms ships, in the reader's language
    unknown = client.post(path, data={"action": "save", "editions": ["digest"], "language": "xx", "csrf_token": token})
    assert unknown.status_code == 400
    assert wtforms.gettext("Not a valid choice.") != "Not a valid choice."
    assert wtforms.gettext("Not a valid choice.") in page_text(unknown.get_data(as_text=True))

    blank = client.post(path, data={"action": "email", "new_email": "", "csrf_token": token})
    assert blank.status_code == 400
    assert wtforms.gettext("This field is required.") in page_text(blank.get_data(as_text=True))
    assert "This field is required." not in blank.get_data(as_text=True)

    for url, data in ((path, {"action": "save", "editions": ["digest"]}), (unsubscribe_path(site, subscriber), {})):
        stale = client.post(url, data=data | {"csrf_token": "from-an-old-page"})  # refused before the view
        assert stale.status_code == 400 and form_expired in page_text(stale.get_data(as_text=True))
        assert f'lang="{language}"' in stale.get_data(as_text=True)
    assert site.subscriber(subscriber.email).status == "active"


def test_a_link_that_does_not_work_says_so_in_the_readers_language(site: Site) -> None:
    subscriber = subscribe_confirmed(site, "lecteur@example.org", language="fr")
    client = site.client()
    mangled = preferences_path(site, subscriber)[:-3] + "AAA"
    for path in (mangled, unsubscribe_path(site, subscriber)[:-3] + "AAA"):
        page = client.get(path, headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
        assert page.status_code == 404
        text = page_text(page.get_data(as_text=True))
        assert "Ce lien n’est pas valide." in text and 'lang="fr"' in text and "not valid" not in text

    pending = site.subscriber("lecteur@example.org")
    with site.runtime.sessions() as session, session.begin():  # asks again, then waits three days
        session.get(Subscriber, pending.id).status = "pending"

    class ThreeDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3 * 24 * 3600

    serializer = URLSafeTimedSerializer(TEST_SECRET, salt="digest.timed.confirm", signer=ThreeDaysAgo)
    expired = serializer.dumps(f"{pending.uid}.0")
    for method in (client.get, client.post):  # no Accept-Language: the signature still says whose it is
        page = method(f"/confirm/{expired}")
        assert page.status_code == 400 and "Ce lien a expiré." in page_text(page.get_data(as_text=True))


def test_outside_a_page_the_domain_says_it_in_english(site: Site) -> None:
    """What the commands show is str(error): English, even while a French page is being served (no
    command reaches these messages today; this is the domain function as a command would call it)."""
    subscriber = subscribe_confirmed(site, "anglais@example.org", language="fr")
    with site.app.test_request_context("/", headers={"Accept-Language": "fr"}):
        use_language("fr")
        with pytest.raises(SubscriptionError) as refused:
            update_preferences(site.runtime.config, subscriber, None, Choices(editions=(), topics=(), language="fr"))
    assert str(refused.value) == "choose at least one kind of edition, or unsubscribe"


def test_notices_to_one_address_are_limited(site: Site) -> None:
    for _ in range(5):
        assert site.client().post("/subscribe", json={"email": "target@example.org"}).status_code == 202
    assert len(site.mails_to("target@example.org")) == 3


def test_the_home_page_leads_to_the_subscribe_form(site: Site) -> None:
    client = site.client()
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'<form class="subscribe-mini"[^>]*method="get"[^>]*action="/subscribe"', home)
    page = client.get("/subscribe?email=someone%40example.org").get_data(as_text=True)
    assert 'value="someone@example.org"' in page and 'name="csrf_token"' in page
