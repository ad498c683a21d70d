"""Each subscriber gets the edition in their language, through a real SMTP server: the chrome (greeting,
headings, buttons, footer, dates) in French, German or Spanish, the items as written; the edition is
rendered once per language its recipients read, never once per recipient; a language without a
catalog gets the site's."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import dkim
from babel.dates import format_skeleton
from sqlalchemy import select

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.editions.lifecycle import create_edition
from digest.models import Edition, EditionRendering, Subscriber
from digest.runtime import Runtime
from tests.delivery_helpers import dkim_key_pair, drain, smtp_runtime_for
from tests.factories import make_item, make_subscribers
from tests.smtpserver import RecordingHandler

EVENT_STARTS = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=12)
LANGUAGES = {"fr": 3, "es": 1, "en": 2, "it": 1, "xx-YY": 1}  # it, xx-YY: no catalog, so the site's language


def _send(runtime: Runtime, languages: dict[str, int] = LANGUAGES) -> int:
    """A digest with a news item, an event and a call, sent to subscribers reading `languages`."""
    with runtime.sessions() as session, session.begin():
        make_item(session, "Cluster news as written")
        make_item(session, "Matchmaking in Lisbon", kind="event", starts_at=EVENT_STARTS, ends_at=None)
        make_item(session, "Open call as written", kind="call")
        for language, count in languages.items():
            for subscriber in make_subscribers(session, count, prefix=f"{language}-"):
                subscriber.language = language
        edition = create_edition(session, runtime.config, SYSTEM, "digest").require()
        start_sending(session, runtime.config, edition.id)
        return edition.id


def _received(handler: RecordingHandler) -> dict[str, EmailMessage]:
    return {received.recipients[0]: received.message for received in handler.received}


def _parts(message: EmailMessage) -> tuple[str, str]:
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    return html, text


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def test_a_french_subscriber_gets_the_digest_in_french(write_config: Callable[..., Path], smtp, tmp_path) -> None:
    handler, port = smtp
    key_file, record = dkim_key_pair(tmp_path)
    dkim_settings = {"domain": "digest.test", "selector": "lang", "private_key_file": str(key_file)}
    runtime = smtp_runtime_for(write_config, port, mail={"dkim": dkim_settings})
    _send(runtime)
    assert drain(runtime).stats.sent == sum(LANGUAGES.values())
    runtime.close()
    received = _received(handler)

    html, text = _parts(received["fr-0@example.org"])
    assert _lang(html) == "fr"
    assert "Vous recevez ce message parce que vous êtes abonné aux actualités de Test Cluster Platform." in html
    assert ">Se désabonner</a>" in html and ">Gérer vos préférences</a>" in html and "Bonjour Reader 0," in html
    assert "Lire la suite" in html and "Date limite" in html and "Actualités" in html  # a default section title
    assert "Cette semaine\u00a0: 1 actualité, 1 événement, 1 appel ouvert" in html  # the generated preheader
    day = EVENT_STARTS.astimezone(ZoneInfo("Europe/Brussels")).date()
    assert format_skeleton("yMMMEd", day, locale="fr") in html  # "mer. 13 janv. 2027", CLDR's French
    assert "Cluster news as written" in html and "Matchmaking in Lisbon" in html  # items keep their language
    assert "Bonjour Reader 0," in text and "Se désabonner\u00a0: http://digest.test/unsubscribe/" in text
    assert format_skeleton("yMMMEd", day, locale="fr") in text and "Unsubscribe" not in text

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"lang._domainkey.digest.test." else None

    french = next(r for r in handler.received if r.recipients == ["fr-0@example.org"])
    assert dkim.verify(french.data, dnsfunc=dns)  # the body, non-ASCII and all, is signed as it is sent

    spanish_html, spanish_text = _parts(received["es-0@example.org"])
    assert _lang(spanish_html) == "es" and "Darse de baja: http://digest.test/unsubscribe/" in spanish_text
    for reader in ("en-0@example.org", "it-0@example.org", "xx-YY-0@example.org"):  # the site's language: English
        english_html, english_text = _parts(received[reader])
        assert _lang(english_html) == "en" and "You receive this email because" in english_html
        assert "Unsubscribe: http://digest.test/unsubscribe/" in english_text


def test_an_edition_is_rendered_once_per_language_its_recipients_read(
    write_config: Callable[..., Path], smtp
) -> None:
    runtime = smtp_runtime_for(write_config, smtp[1])
    edition_id = _send(runtime)
    with runtime.sessions() as session:
        rows = session.scalars(select(EditionRendering).where(EditionRendering.edition_id == edition_id)).all()
        edition = session.get(Edition, edition_id)
        assert _lang(edition.html) == "en"  # the site's language stays on the edition, as the archive shows it
        readers = set(session.scalars(select(Subscriber.language)))
    runtime.close()
    # three French readers, one French rendering; English, Italian and "xx-YY" read the edition's own
    assert sorted(row.language for row in rows) == ["es", "fr"] and readers == set(LANGUAGES)
    assert [_lang(row.html) for row in sorted(rows, key=lambda row: row.language)] == ["es", "fr"]


def test_a_site_in_french_sends_english_readers_english(write_config: Callable[..., Path], smtp) -> None:
    handler, port = smtp
    runtime = smtp_runtime_for(write_config, port, site={"language": "fr"})
    edition_id = _send(runtime, {"en": 1, "de": 1, "it": 1})
    drain(runtime)
    with runtime.sessions() as session:
        languages = session.scalars(select(EditionRendering.language).where(EditionRendering.edition_id == edition_id))
        assert sorted(languages) == ["de", "en"]
    runtime.close()
    received = _received(handler)
    assert _lang(_parts(received["en-0@example.org"])[0]) == "en"
    assert _lang(_parts(received["it-0@example.org"])[0]) == "fr"  # no Italian catalog: the site's language
    german = " ".join(_parts(received["de-0@example.org"])[1].split())  # the text part wraps at 72 columns
    assert "Sie erhalten diese E-Mail, weil Sie die Neuigkeiten von Test Cluster Platform abonniert haben." in german
