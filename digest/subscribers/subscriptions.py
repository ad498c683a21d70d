"""What a person can do about their own subscription: subscribe (double opt-in), confirm, change
preferences or address, unsubscribe, export their data, and be forgotten.

Every function takes a session and returns what to tell the person; sending the notices they
return is the caller's job, after the transaction commits. A subscribe request behaves the same
towards the requester whatever the address's state: the same answer, and a mail to that address
unless it must never be mailed again (forgotten, complained) — so the answer reveals nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.clean import strip_controls
from digest.config import Config
from digest.delivery.message import SiteLinks
from digest.delivery.notices import (
    Notice,
    already_subscribed_notice,
    confirm_new_address_notice,
    confirm_subscription_notice,
)
from digest.errors import DigestError
from digest.marked import N_
from digest.models import Delivery, Edition, Subscriber, utcnow
from digest.rendering.i18n import LANGUAGE_NAMES
from digest.subscribers.preferences import EDITION_CHOICES, editions_of, make_preferences, topics_of
from digest.subscribers.roster import (
    THE_SUBSCRIBER,
    find_subscriber,
    forget_subscriber,
    is_suppressed,
    normalise_email,
)
from digest.subscribers.tokens import (
    TokenError,
    make_timed_token,
    read_signed_value,
    read_timed_token,
    read_token,
)

CONFIRM_HOURS = 48
LANGUAGES = LANGUAGE_NAMES  # those with a catalog; a stored code without one reads the site's language
NEVER_MAIL_AGAIN = ("complained",)


class SubscriptionError(DigestError):
    """A request that cannot be done, worded for the person on the page."""


@dataclass(frozen=True)
class Choices:
    """What a person picked on the subscribe or preferences form."""

    editions: tuple[str, ...] = EDITION_CHOICES
    topics: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class Links:
    """The site's signed links: unsubscribe and preferences (never expire), confirmations (expire)."""

    site: SiteLinks

    def confirm_url(self, subscriber: Subscriber) -> str:
        # Bound to when the person last unsubscribed: a link from before that stops working.
        value = f"{subscriber.uid}.{_unsubscribe_stamp(subscriber)}"
        return f"{self.site.base_url}/confirm/{make_timed_token(self.site.secret_key, 'confirm', value)}"

    def change_email_url(self, uid: str, new_email: str) -> str:
        value = f"{uid}.{_fingerprint(new_email)}"
        return f"{self.site.base_url}/confirm/{make_timed_token(self.site.secret_key, 'change_email', value)}"


def request_subscription(
    session: Session, config: Config, links: Links, email: str, name: str | None, choices: Choices
) -> Notice | None:
    """Record a subscribe request; return the notice to send (None when the address is never mailed)."""
    address = normalise_email(email)
    if not choices.editions:
        raise SubscriptionError(N_("choose at least one kind of edition"))
    preferences = _preferences(choices)
    language = _language(choices.language, config)
    if is_suppressed(session, address):
        return None
    subscriber = find_subscriber(session, address)
    site = config.site.name
    if subscriber is None:
        subscriber = Subscriber(email=address, status="pending", created_at=utcnow())
        session.add(subscriber)
    elif subscriber.status == "active":  # nothing changes for an active subscriber: the owner is told
        return already_subscribed_notice(site, address, links.site.preferences_url(subscriber.uid), subscriber.language)
    elif subscriber.status in NEVER_MAIL_AGAIN:
        return None
    # Pending, unsubscribed or bounced: receives nothing until the address's owner confirms.
    subscriber.name = _name(name) or subscriber.name
    subscriber.preferences = preferences
    subscriber.language = language
    session.flush()
    return confirm_subscription_notice(site, address, links.confirm_url(subscriber), CONFIRM_HOURS, language)


def confirm(session: Session, secret_key: str, token: str, now: datetime | None = None) -> tuple[str, Subscriber]:
    """Follow a /confirm link: a subscription or a new address. Returns (what was confirmed, subscriber)."""
    what, value = confirmation_in(secret_key, token)
    confirm_it = _confirm_subscription if what == "subscription" else _confirm_new_address
    return what, confirm_it(session, value, now or utcnow())


def confirmation_in(secret_key: str, token: str) -> tuple[str, str]:
    """What a /confirm token would confirm ("subscription" or "email") and its signed value, changing
    nothing; TokenError when it is forged, expired or meant for something else."""
    for purpose, what in (("confirm", "subscription"), ("change_email", "email")):
        try:
            value, _ = read_timed_token(secret_key, purpose, token, CONFIRM_HOURS * 3600)
        except TokenError as error:
            if "expired" in str(error):  # signed for this purpose, only too old
                raise
            continue
        return what, value
    raise TokenError(N_("this link is not valid"))


def confirmation_language(session: Session, secret_key: str, token: str) -> str | None:
    """The language of the person a /confirm link was mailed to, even once it has expired, changing
    nothing (None: not a link we signed)."""
    for purpose in ("confirm", "change_email"):
        try:
            value = read_signed_value(secret_key, purpose, token)
            return _by_uid(session, value.partition(".")[0]).language
        except TokenError:
            continue
    return None


def _confirm_subscription(session: Session, value: str, now: datetime) -> Subscriber:
    uid, _, stamp = value.partition(".")
    subscriber = _by_uid(session, uid)
    if subscriber.status == "active":
        return subscriber
    if subscriber.status in NEVER_MAIL_AGAIN or stamp != _unsubscribe_stamp(subscriber):
        raise TokenError(N_("this link was sent before you unsubscribed; subscribe again to get a new one"))
    subscriber.status, subscriber.confirmed_at, subscriber.unsubscribed_at = "active", now, None
    return subscriber


def _confirm_new_address(session: Session, value: str, now: datetime) -> Subscriber:
    uid, _, fingerprint = value.partition(".")
    subscriber = _by_uid(session, uid)
    new_email = subscriber.pending_email
    if not new_email or _fingerprint(new_email) != fingerprint:
        raise TokenError(N_("this link is not valid (a newer change of address replaced it)"))
    if find_subscriber(session, new_email) is not None or is_suppressed(session, new_email):
        raise SubscriptionError(
            N_("%(address)s cannot be used: it is already on the list or was removed from it"), address=new_email
        )
    subscriber.email, subscriber.pending_email = new_email, None
    return subscriber


def subscriber_for(session: Session, secret_key: str, purpose: str, token: str) -> Subscriber:
    """The subscriber a preferences or unsubscribe link belongs to (TokenError otherwise)."""
    return _by_uid(session, read_token(secret_key, purpose, token))


def update_preferences(config: Config, subscriber: Subscriber, name: str | None, choices: Choices) -> None:
    if not choices.editions:
        raise SubscriptionError(N_("choose at least one kind of edition, or unsubscribe"))
    subscriber.preferences = _preferences(choices)
    subscriber.language = _language(choices.language, config)
    subscriber.name = _name(name)


def request_email_change(
    session: Session, config: Config, links: Links, subscriber: Subscriber, new_email: str
) -> Notice | None:
    """Remember the new address and mail it a confirmation link (not when it is taken or suppressed:
    the page says the same either way)."""
    address = normalise_email(new_email)
    if address == subscriber.email or find_subscriber(session, address) or is_suppressed(session, address):
        return None
    subscriber.pending_email = address
    return confirm_new_address_notice(
        config.site.name, address, links.change_email_url(subscriber.uid, address), CONFIRM_HOURS, subscriber.language
    )


def export_data(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Everything kept about the person, as JSON-ready data."""
    rows = session.execute(
        select(Edition.title, Edition.type, Delivery.status, Delivery.sent_at)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id)
    )
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "status": subscriber.status,
        "language": subscriber.language,
        "preferences": {"editions": editions_of(subscriber.preferences), "topics": topics_of(subscriber.preferences)},
        "pending_email": subscriber.pending_email,
        "created_at": _iso(subscriber.created_at),
        "confirmed_at": _iso(subscriber.confirmed_at),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        "deliveries": [
            {"edition": title, "type": kind, "status": status, "sent_at": _iso(sent_at)}
            for title, kind, status, sent_at in rows
        ],
    }


def forget(
    session: Session, subscriber: Subscriber, now: datetime | None = None, outbox_dir: Path | None = None
) -> None:
    """The person asked, from their preferences page, to have their data erased."""
    forget_subscriber(session, THE_SUBSCRIBER, subscriber, now, outbox_dir)


def _by_uid(session: Session, uid: str) -> Subscriber:
    subscriber = session.scalar(select(Subscriber).where(Subscriber.uid == uid))
    if subscriber is None:
        raise TokenError(N_("this link is not valid"))
    return subscriber


def _preferences(choices: Choices) -> dict[str, Any]:
    try:
        return make_preferences(choices.editions, choices.topics)
    except ValueError as error:
        raise SubscriptionError(str(error)) from None


def _language(code: str | None, config: Config) -> str:
    if not code:
        return config.site.language
    if code not in LANGUAGES and code != config.site.language:
        raise SubscriptionError(f"unknown language {code!r}")
    return code


def _name(name: str | None) -> str | None:
    return " ".join(strip_controls(name or "").split())[:200] or None


def _unsubscribe_stamp(subscriber: Subscriber) -> str:
    left_at = subscriber.unsubscribed_at
    return _fingerprint(left_at.isoformat())[:8] if left_at else "0"


def _fingerprint(address: str) -> str:
    return hashlib.sha256(address.encode("utf-8")).hexdigest()[:16]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
