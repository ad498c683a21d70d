"""Transactional messages: confirmation links, "already subscribed", email changes, and alerts to
the editors. Short plain-text emails through the configured transport (and DKIM signer)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime

from digest.config import Config
from digest.delivery.dkim import make_signer
from digest.delivery.envelope import notice_sender
from digest.delivery.errors import TransientError
from digest.delivery.headers import header_values
from digest.delivery.message_id import notice_message_id, sender_domain
from digest.delivery.transport import Transport, make_transport
from digest.marked import N_
from digest.models import utcnow
from digest.rendering.i18n import translations

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    text: str


def _worded(language: str, to: str, subject: str, text: str, **values: object) -> Notice:
    """A notice in `language` (any code without a catalog: English); subject and text are msgids."""
    words = translations(language)
    return Notice(to=to, subject=words.gettext(subject) % values, text=words.gettext(text) % values)


def confirm_subscription_notice(site_name: str, to: str, confirm_url: str, hours: int, language: str = "en") -> Notice:
    """In the language the subscriber chose (any other code: English)."""
    return _worded(
        language,
        to,
        N_("Confirm your subscription to %(site)s"),
        N_(
            "Someone, hopefully you, asked to receive %(site)s at this address.\n\n"
            "To confirm, open this link within %(hours)d hours:\n\n  %(url)s\n\n"
            "If it was not you, ignore this message: nothing will be sent to you.\n"
        ),
        site=site_name,
        url=confirm_url,
        hours=hours,
    )


def already_subscribed_notice(site_name: str, to: str, preferences_url: str, language: str = "en") -> Notice:
    return _worded(
        language,
        to,
        N_("You are already subscribed to %(site)s"),
        N_(
            "Someone, hopefully you, asked to subscribe this address to %(site)s.\n"
            "It already receives it, so nothing has changed.\n\n"
            "To choose what you receive, or to unsubscribe:\n\n  %(url)s\n"
        ),
        site=site_name,
        url=preferences_url,
    )


def confirm_new_address_notice(site_name: str, to: str, confirm_url: str, hours: int, language: str = "en") -> Notice:
    return _worded(
        language,
        to,
        N_("Confirm your new address for %(site)s"),
        N_(
            "Someone, hopefully you, asked to receive %(site)s at this address instead of their old one.\n\n"
            "To confirm, open this link within %(hours)d hours:\n\n  %(url)s\n\n"
            "If it was not you, ignore this message: nothing will change.\n"
        ),
        site=site_name,
        url=confirm_url,
        hours=hours,
    )


def edition_paused_notice(site_name: str, to: str, edition_title: str, edition_id: int, reason: str) -> Notice:
    return Notice(
        to=to,
        subject=f"[{site_name}] Sending paused: {edition_title}",
        text=(
            f"Sending edition {edition_id} (“{edition_title}”) has been paused: {reason}\n\n"
            "Nothing more is sent until you resume it, once the cause is fixed:\n\n"
            f"  digest edition resume {edition_id}\n\n"
            "Messages already accepted by the server stay sent; the rest wait in the queue.\n"
        ),
    )


def compose(notice: Notice, sender: str, sign: Callable[[bytes], bytes] | None = None) -> bytes:
    message = EmailMessage()
    fields = {
        "From": sender,
        "To": notice.to,
        "Subject": notice.subject,
        "Date": format_datetime(utcnow()),
        "Message-ID": notice_message_id(sender_domain(sender)),
        "Auto-Submitted": "auto-generated",
    }
    for name, value in header_values(fields).items():
        message[name] = value
    message.set_content(notice.text)
    payload = message.as_bytes(policy=SMTP_POLICY)
    return sign(payload) if sign else payload


def send_notice(transport: Transport, config: Config, notice: Notice, sign: Callable[[bytes], bytes] | None) -> None:
    """From the From address, bounces to the return path (where `digest bounces process` reads them)."""
    transport.send(notice_sender(config), notice.to, [compose(notice, config.mail.from_address, sign)])


class Mailer:
    """Sends notices from a background thread, so a web request never waits for (or reveals by its
    timing) whether an email went out. One retry after a temporary failure; failures are logged."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notices")
        self._transport: Transport | None = None
        self._sign: Callable[[bytes], bytes] | None = None
        self._lock = threading.Lock()

    def submit(self, notice: Notice) -> Future[None]:
        return self._executor.submit(self._send, notice)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every notice submitted so far has been sent (or given up)."""
        self._executor.submit(lambda: None).result(timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._transport is not None:
            self._transport.close()

    def _send(self, notice: Notice) -> None:
        with self._lock:
            if self._transport is None:
                self._transport = make_transport(self.config)
                self._sign = make_signer(self.config)
        for attempt in (1, 2):
            try:
                send_notice(self._transport, self.config, notice, self._sign)
                return
            except TransientError as error:
                if attempt == 2:
                    log.error("notice %r to %s not sent: %s", notice.subject, notice.to, error)
                else:
                    time.sleep(1.0)
            except Exception:
                log.exception("notice %r to %s not sent", notice.subject, notice.to)
                return
