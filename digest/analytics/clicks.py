"""The click counts: an edition's links are stored when it is frozen; a click is one atomic UPDATE
(``clicks = clicks + 1``), so concurrent clicks on SQLite and PostgreSQL never lose a count."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.models import ERASED_DOMAIN, Delivery, DeliveryClick, EditionLink, Subscriber, utcnow
from digest.subscribers.tokens import TokenError, read_token

MAX_TOKEN = 200  # a real token is under 60 characters


class UnknownLink(DigestError):
    """A click token that is forged, tampered with, or names no link: answered 404, never redirected."""


def store_links(session: Session, edition_id: int, urls: tuple[str, ...]) -> None:
    """Keep the links a freshly frozen edition carries, numbered as its tokens name them."""
    session.execute(delete(EditionLink).where(EditionLink.edition_id == edition_id))
    session.add_all(EditionLink(edition_id=edition_id, number=n, url=url) for n, url in enumerate(urls, 1))


def follow(
    session: Session,
    secret_key: str,
    token: str,
    tag: str | None = None,
    count: bool = True,
    per_subscriber: bool = False,
    now: datetime | None = None,
) -> str:
    """The URL a click token leads to, counting the click when `count`; with `per_subscriber` a delivery
    tag (`tag`) is counted for that delivery too. Raises UnknownLink."""
    edition_id, number = _read(secret_key, "click", token)
    delivery_id = None
    if tag is not None:
        tagged_edition, delivery_id = _read(secret_key, "click_delivery", tag)
        if tagged_edition != edition_id:
            raise UnknownLink("this link is not valid")
    where = (EditionLink.edition_id == edition_id, EditionLink.number == number)
    if not count:
        found = session.scalar(select(EditionLink.url).where(*where))
        if found is None:
            raise UnknownLink("this link is not valid")
        return found
    counted = session.execute(
        update(EditionLink)
        .where(*where)
        .values(clicks=EditionLink.clicks + 1)
        .returning(EditionLink.id, EditionLink.url)
        .execution_options(synchronize_session=False)
    ).first()
    if counted is None:
        raise UnknownLink("this link is not valid")
    if per_subscriber and delivery_id is not None:
        _count_for_delivery(session, edition_id, delivery_id, counted.id, now or utcnow())
    return counted.url


def _count_for_delivery(session: Session, edition_id: int, delivery_id: int, link_id: int, now: datetime) -> None:
    """One more click of the link by the delivery (of this edition, and not of a forgotten person's, else
    nothing): one upsert statement."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    source = (
        select(Delivery.id, literal(link_id), literal(1), literal(now, DeliveryClick.first_clicked_at.type))
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.id == delivery_id,
            Delivery.edition_id == edition_id,
            Subscriber.email.not_like(f"%@{ERASED_DOMAIN}"),
        )
    )
    statement = insert(DeliveryClick).from_select(["delivery_id", "link_id", "clicks", "first_clicked_at"], source)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["delivery_id", "link_id"], set_={"clicks": DeliveryClick.clicks + 1}
        )
    )


def erase_clicks_of(session: Session, subscriber_id: int) -> int:
    """Delete what a person's deliveries recorded of their clicks (when they are forgotten); how many rows.
    The editions' counts stay: they name nobody."""
    deliveries = select(Delivery.id).where(Delivery.subscriber_id == subscriber_id)
    erased = session.execute(delete(DeliveryClick).where(DeliveryClick.delivery_id.in_(deliveries)))
    return int(erased.rowcount or 0)


def edition_clicks(session: Session, edition_id: int) -> list[dict[str, object]]:
    """The edition's links with their clicks, most followed first (then in the email's order)."""
    rows = session.execute(
        select(EditionLink.url, EditionLink.clicks)
        .where(EditionLink.edition_id == edition_id)
        .order_by(EditionLink.clicks.desc(), EditionLink.number)
    )
    return [{"url": url, "clicks": clicks} for url, clicks in rows]


def delivery_clicks(session: Session, delivery_id: int) -> list[dict[str, object]]:
    """What one delivery's reader followed (recorded only with `analytics.per_subscriber`)."""
    rows = session.execute(
        select(EditionLink.url, DeliveryClick.clicks)
        .join(EditionLink, EditionLink.id == DeliveryClick.link_id)
        .where(DeliveryClick.delivery_id == delivery_id)
        .order_by(EditionLink.number)
    )
    return [{"url": url, "clicks": clicks} for url, clicks in rows]


def _read(secret_key: str, purpose: str, token: str) -> tuple[int, int]:
    """The two numbers ("12.3") a click or delivery token carries."""
    if len(token) > MAX_TOKEN:
        raise UnknownLink("this link is not valid")
    try:
        first, _, second = read_token(secret_key, purpose, token).partition(".")
        return int(first), int(second)
    except (TokenError, ValueError):
        raise UnknownLink("this link is not valid") from None
