"""Builders for the archive tests: editions published through the real pipeline, and checks every
archive test shares (personal links, link walking)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy.orm import Session

from digest.audit import SYSTEM
from digest.delivery.ledger import start_sending
from digest.editions.lifecycle import create_edition
from digest.models import Edition, EditionItem, Item, utcnow
from digest.rendering.render import PLACEHOLDERS
from digest.runtime import Runtime
from tests.delivery_helpers import drain
from tests.factories import make_item

# What would identify one subscriber: our markers, and token paths of the subscription pages.
PERSONAL_PATTERNS = (
    re.compile(r"XDIGESTX"),
    re.compile(r"/unsubscribe/[A-Za-z0-9._~%-]+"),
    re.compile(r"/preferences/[A-Za-z0-9._~%-]+"),
    re.compile(r"/confirm/[A-Za-z0-9._~%-]+"),
)


def at(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def publish(
    runtime: Runtime,
    items: Iterable[tuple[str, str] | tuple[str, str, dict[str, object]]],
    when: datetime | None = None,
    title: str | None = None,
    edition_type: str = "newsletter",
) -> str:
    """Approve these items (title, kind[, fields]), put them in an edition and send it; its slug.

    With no active subscriber the edition is sent at once (at ``when``); otherwise the delivery
    worker sends it to everyone."""
    with runtime.sessions() as session, session.begin():
        for spec in items:
            fields = spec[2] if len(spec) == 3 else {}
            make_item(session, spec[0], kind=spec[1], status="approved", **fields)
        edition = create_edition(session, runtime.config, SYSTEM, edition_type, title=title, now=when).require()
        queued = start_sending(session, runtime.config, edition.id, now=when)
        slug = edition.slug
    if queued:
        drain(runtime, clock=(lambda: when) if when else utcnow)
    return slug


def personal_leaks(text: str) -> list[str]:
    return [match.group(0) for pattern in PERSONAL_PATTERNS for match in pattern.finditer(text)]


def sent_personal_links(outbox: Path) -> set[str]:
    """Every personal link the sent emails carried (their List-Unsubscribe URLs and token links)."""
    links: set[str] = set()
    for path in outbox.glob("*.eml"):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        links.add(str(message["List-Unsubscribe"]).strip("<>"))
        for part in message.walk():
            if part.get_content_maintype() == "text":
                text = part.get_content()
                links.update(re.findall(r"https?://[^\s\"'<>]+/(?:unsubscribe|preferences)/[^\s\"'<>]+", text))
    return links


class LinkCollector(HTMLParser):
    """The URLs a page points at: href of a/link, src of img/script/iframe."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src", "form": "action"}
        name = wanted.get(tag)
        for key, value in attrs:
            if key == name and value:
                self.links.append(value)


def links_of(html: str) -> list[str]:
    collector = LinkCollector()
    collector.feed(html)
    return collector.links


def make_sent_edition(session: Session, slug: str, sent_at: datetime, items: list[Item]) -> Edition:
    """A sent edition written straight through the models (many of them, fast: no rendering),
    with the per-recipient markers a frozen edition carries."""
    markers = PLACEHOLDERS
    html = (
        f"<!doctype html><html><head><title>{slug}</title></head><body>"
        f"<p>Dear {markers['name']},</p>"
        + "".join(f"<h3>{item.title}</h3>" for item in items)
        + f'<p><a href="{markers["preferences_url"]}">Manage preferences</a> · '
        f'<a href="{markers["unsubscribe_url"]}">Unsubscribe</a></p></body></html>'
    )
    edition = Edition(
        type="newsletter",
        title=f"Edition {slug}",
        subject=f"Edition {slug}",
        slug=slug,
        status="sent",
        created_at=sent_at,
        sent_at=sent_at,
        html=html,
        text=f"Dear {markers['name']},\n",
    )
    edition.entries = [
        EditionItem(item=item, item_id=item.id, section="News", position=number) for number, item in enumerate(items)
    ]
    for item in items:
        item.status = "published"
    session.add(edition)
    session.flush()
    return edition
