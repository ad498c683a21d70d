"""Every kind of message we send, scored by Debian's SpamAssassin with its local rules only
(`spamassassin -t -L`, no network): a digest, a newsletter, a test send, the subscription notices, the
editors' alert and the submitters' emails. Each must score at most 0.

Outside CI the test skips when spamassassin is not installed; under CI=true it fails instead (.ci/run
installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.delivery.notices import (
    Notice,
    already_subscribed_notice,
    compose,
    confirm_new_address_notice,
    confirm_subscription_notice,
    edition_paused_notice,
)
from digest.delivery.sending import send_test
from digest.delivery.worker import Worker
from digest.editions.assembly import assemble_digest
from digest.editions.newsletter import create_newsletter
from digest.models import Item, Submission
from digest.runtime import Runtime
from digest.submissions.notices import confirmation_notice, status_notice
from digest.submissions.status import Standing
from tests.edition_helpers import MONDAY, forty_item_week, item_at, long_summary
from tests.factories import make_subscribers

SPAMASSASSIN = shutil.which("spamassassin")
TRANSLATED = ("de", "es", "fr")  # the shipped languages besides English, in the order of their readers' addresses
SITE = "Test Cluster Platform"
BASE = "http://digest.test"
SECRET = "s" * 32
STATUS = re.compile(rb"^X-Spam-Status: (?:Yes|No), score=(-?[\d.]+) ([^\n]*(?:\n[ \t][^\n]*)*)", re.M)


@pytest.fixture(scope="module", autouse=True)
def spamassassin_present() -> None:
    if SPAMASSASSIN is None:
        if os.environ.get("CI") == "true":
            pytest.fail("spamassassin is not installed: CI must score every message (.ci/run installs it)")
        pytest.skip("spamassassin is not installed (Debian: apt-get install spamassassin)")


def spam_scores(messages: dict[str, bytes], home: Path) -> dict[str, tuple[float, str]]:
    """SpamAssassin's score of each message, local tests only, with the rules that fired. One run over
    an mbox (its start-up is the slow part); it answers in its own order, so each message is named by
    an X-Scored-As header of its own."""
    mbox = b"".join(
        b"From digest@digest.test Mon Dec  7 06:00:00 2026\n"
        + f"X-Scored-As: {name}\n".encode()
        + re.sub(rb"^(>*From )", rb">\1", message.replace(b"\r\n", b"\n"), flags=re.M)
        + b"\n"
        for name, message in messages.items()
    )
    (home / "user_prefs").write_text("use_bayes 0\nbayes_auto_learn 0\n")  # the message alone, nothing learnt
    result = subprocess.run(
        [str(SPAMASSASSIN), "-t", "-L", "--mbox", "-x", "-p", str(home / "user_prefs")],
        input=mbox,
        capture_output=True,
        env={**os.environ, "HOME": str(home)},
        timeout=600,
        check=True,
    )
    scores = {}
    for scored in re.split(rb"(?m)^From digest@digest\.test ", result.stdout)[1:]:
        name = re.search(rb"(?m)^X-Scored-As: (.*)$", scored)
        status = STATUS.search(scored)
        assert name and status, scored[:2000]
        score, rules = status.groups()
        scores[name.group(1).decode()] = (float(score), " ".join(rules.decode().split()))
    assert scores.keys() == messages.keys(), result.stderr.decode()[-2000:]
    return scores


def outbox(runtime: Runtime) -> Iterator[bytes]:
    for path in sorted(runtime.config.outbox_dir.glob("*.eml")):
        yield path.read_bytes()
        path.unlink()


def edition_messages(runtime: Runtime) -> dict[str, bytes]:
    """A digest (in English, French, German and Spanish) and a newsletter as the worker sends them, and a
    test send."""
    messages: dict[str, bytes] = {}
    with runtime.sessions() as session, session.begin():
        forty_item_week(session)
        make_subscribers(session, 1)
        for language in TRANSLATED:
            [reader] = make_subscribers(session, 1, prefix=f"{language}-")
            reader.language = language
        digest_id = assemble_digest(session, "Europe/Brussels", now=MONDAY).require().id
    send_test(runtime, SYSTEM, digest_id, "editor@example.org", MONDAY)  # before the edition is sent
    [messages["test send"]] = outbox(runtime)
    with runtime.sessions() as session, session.begin():
        start_sending(session, runtime.config, digest_id, MONDAY)
    Worker(runtime).drain()
    *translated, messages["digest"] = outbox(runtime)  # named by address: de-0@, es-0@, fr-0@, reader0@
    messages |= {f"digest ({language})": message for language, message in zip(TRANSLATED, translated, strict=True)}
    assert all(f'<html lang=3D"{language}"'.encode() in messages[f"digest ({language})"] for language in TRANSLATED)
    with runtime.sessions() as session, session.begin():
        picked = [
            item_at(session, f"Cluster highlight {n}: a regional partnership opens to new members", MONDAY,
                    summary=long_summary(f"highlight {n}"), url=f"https://clusters.example.eu/highlights/{n}")
            for n in range(4)
        ]  # fmt: skip
        chosen = [("Highlights", [item.id for item in picked[:3]]), ("Also", [picked[3].id])]
        newsletter = create_newsletter(
            session, "Europe/Brussels", title="Highlights", sections=chosen, intro="A **short** note.", now=MONDAY
        )
        start_sending(session, runtime.config, newsletter.id, MONDAY)
    Worker(runtime).drain()
    messages["newsletter"] = list(outbox(runtime))[-1]  # reader0@, in English
    return messages


def submission(status: str = "new") -> Submission:
    item = Item(kind="event", title="Hydrogen valleys matchmaking in Bilbao", status="approved")
    return Submission(
        id=7,
        kind="event",
        status=status,
        payload={"title": "Hydrogen valleys matchmaking in Bilbao"},
        contact_name="Ane Etxeberria",
        contact_email="ane@cluster.example.eu",
        organisation="Basque Hydrogen Cluster",
        item=item,
    )


def notices() -> dict[str, Notice]:
    """Every notice of digest/delivery/notices.py (the subscriptions' and the editors') and of
    digest/submissions/notices.py."""
    to = "reader@example.org"
    published = Standing(
        "published", "Published", "", edition_title="Weekly digest, 7 December 2026", edition_path="/archive/w-49"
    )
    rejected = Standing("rejected", "Not accepted", "", note="It is outside the platform's scope.\nThank you.")
    return {
        "confirm subscription": confirm_subscription_notice(SITE, to, f"{BASE}/confirm/abc", 48),
        "already subscribed": already_subscribed_notice(SITE, to, f"{BASE}/preferences/abc"),
        "confirm new address": confirm_new_address_notice(SITE, to, f"{BASE}/confirm/def", 48),
        "edition paused": edition_paused_notice(SITE, to, "Weekly digest", 12, "the server refused 30 messages"),
        "submission received": confirmation_notice(SITE, BASE, SECRET, submission()),
        "submission duplicate": confirmation_notice(SITE, BASE, SECRET, submission("duplicate")),
        "submission rejected": status_notice(SITE, BASE, SECRET, submission(), rejected),
        "submission published": status_notice(SITE, BASE, SECRET, submission(), published),
    } | {
        f"confirm subscription ({language})": confirm_subscription_notice(SITE, to, f"{BASE}/confirm/a", 48, language)
        for language in TRANSLATED
    }


def test_every_message_we_send_scores_at_most_zero(runtime: Runtime, tmp_path: Path) -> None:
    sender = runtime.config.mail.from_address
    messages = edition_messages(runtime)
    messages |= {name: compose(notice, sender) for name, notice in notices().items()}
    scores = spam_scores(messages, tmp_path)
    for name, (score, rules) in scores.items():
        print(f"{name}: {score} {rules}")
    assert {name: found for name, found in scores.items() if found[0] > 0} == {}
