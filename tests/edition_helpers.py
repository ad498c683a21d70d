"""Builders for the editions tests: items dated on a fixed calendar, a realistic 40-item week, and
sending an edition the way `digest edition send` does."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from digest.config import Config
from digest.delivery.ledger import start_sending
from digest.models import Edition, Item
from tests.factories import make_item

# Monday 7 December 2026, 07:00 in Brussels: the weekly assembly.
MONDAY = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
COUNTRIES = ("Belgium", "Portugal", "Germany", "Poland", "Spain", "Italy", "Sweden", "Greece", "Czechia", "Ireland")


def item_at(session: Session, title: str, when: datetime, kind: str = "news", **fields: object) -> Item:
    """An approved item published, collected and approved at ``when`` (override any of them)."""
    dated: dict[str, object] = {"published_at": when, "collected_at": when, "approved_at": when}
    return make_item(session, title, kind=kind, **(dated | fields))


def send(session: Session, config: Config, edition: Edition, now: datetime) -> int:
    """Start sending (freeze and queue) at ``now``, as the CLI and the scheduler do."""
    return start_sending(session, config, edition.id, now)


def long_summary(topic: str, sentences: int = 6) -> str:
    """A summary as the collectors keep it: several paragraphs of real-looking prose with a link."""
    text = (
        f"The {html.escape(topic)} partnership brought together <strong>cluster managers</strong>, SMEs and "
        "research centres from across Europe to agree a joint action plan on internationalisation, skills "
        "and the twin green and digital transition. "
    )
    more = " ".join(
        "Participants compared support services, mapped value chains and planned matchmaking missions for next year."
        for _ in range(sentences)
    )
    return f'<p>{text}</p><p>{more} <a href="https://clusters.example.eu/more">Read the report</a>.</p>'


def forty_item_week(session: Session, now: datetime = MONDAY) -> list[Item]:
    """A busy week: 12 news items, 10 events, 10 open calls and 8 achievements, every one approved in the
    last week, with long summaries, images on some, long titles and organisation names."""
    items: list[Item] = []
    for n in range(12):
        items.append(
            item_at(
                session,
                f"Cluster news {n}: {COUNTRIES[n % 10]} cluster organisations sign a cooperation agreement on "
                "advanced manufacturing",
                now - DAY * (1 + n % 6),
                summary=long_summary(f"news {n}"),
                image_url=f"https://img.clusters.example.eu/news-{n}.jpg" if n % 3 == 0 else None,
                organisation=f"European Cluster Organisation for Advanced Manufacturing {n}",
                country=COUNTRIES[n % 10],
                featured=n == 0,
                url=f"https://clusters.example.eu/news/{n}-cooperation-agreement?utm_campaign=x&lang=en",
            )
        )
    for n in range(10):
        starts = now + DAY * (3 + 5 * n) + timedelta(hours=2)
        items.append(
            item_at(
                session,
                f"Matchmaking event {n} for cluster organisations in {COUNTRIES[n]}",
                now - DAY * 2,
                kind="event",
                starts_at=starts,
                ends_at=starts + timedelta(hours=7 if n % 3 else 30),
                timezone=("Europe/Lisbon", "Europe/Brussels", "Europe/Athens")[n % 3],
                location=f"Congress centre, {COUNTRIES[n]}" if n % 4 else "Online",
                summary=long_summary(f"event {n}", sentences=3),
                image_url="https://img.clusters.example.eu/event.jpg" if n == 0 else None,
                featured=n == 0,
                url=f"https://events.clusters.example.eu/{n}",
            )
        )
    for n in range(10):
        items.append(
            item_at(
                session,
                f"Open call {n}: support for joint cluster initiatives and cross-border partnerships",
                now - DAY * 3,
                kind="call",
                deadline=now + DAY * (4 + 6 * n) + timedelta(hours=10),
                organisation="European Innovation Council and SMEs Executive Agency",
                country="Belgium",
                summary=long_summary(f"call {n}", sentences=2),
                url=f"https://calls.clusters.example.eu/{n}",
            )
        )
    for n in range(8):
        items.append(
            item_at(
                session,
                f"Achievement {n}: a new value chain for circular plastics in {COUNTRIES[n]}",
                now - DAY * 4,
                kind="achievement",
                organisation=f"Circular Plastics Cluster {n}",
                country=COUNTRIES[n],
                summary=long_summary(f"achievement {n}", sentences=2),
                image_url=f"https://img.clusters.example.eu/achievement-{n}.png" if n % 2 == 0 else None,
                url=f"https://clusters.example.eu/achievements/{n}",
            )
        )
    return items
