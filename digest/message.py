"""The email message of an edition: built once, then only the per-recipient parts change."""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, getaddresses, parseaddr
from urllib.parse import urlsplit

from digest.models import Edition, utcnow
from digest.render import personalise
from digest.tokens import make_token


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None
    uid: str  # the subscriber's random uid, carried by the signed links


@dataclass(frozen=True)
class SiteLinks:
    base_url: str
    secret_key: str

    def unsubscribe_url(self, uid: str) -> str:
        return f"{self.base_url}/unsubscribe/{make_token(self.secret_key, 'unsubscribe', uid)}"

    def preferences_url(self, uid: str) -> str:
        return f"{self.base_url}/preferences/{make_token(self.secret_key, 'preferences', uid)}"


class EditionMessage:
    """An edition's frozen HTML and text, ready to address to one subscriber after another."""

    def __init__(self, edition: Edition, sender: str, list_name: str, links: SiteLinks) -> None:
        if not edition.html or not edition.text:
            raise ValueError(f"edition {edition.id} has not been frozen (rendered) yet")
        self.edition_id = edition.id
        self.subject = edition.subject
        self.html = edition.html
        self.text = edition.text
        self.sender = sender
        self.links = links
        self.domain = _sender_domain(sender)
        self.list_id = f"{list_name} <{_list_id_label(list_name)}.{self.domain}>"

    @property
    def envelope_sender(self) -> str:
        return parseaddr(self.sender)[1]

    def message_id(self, delivery_id: int) -> str:
        return f"<edition-{self.edition_id}.delivery-{delivery_id}@{self.domain}>"

    def build(self, recipient: Recipient, delivery_id: int, subject_prefix: str = "") -> bytes:
        unsubscribe = self.links.unsubscribe_url(recipient.uid)
        values = {
            "name": recipient.name or "reader",
            "unsubscribe_url": unsubscribe,
            "preferences_url": self.links.preferences_url(recipient.uid),
        }
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = _address(recipient)
        message["Subject"] = subject_prefix + self.subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = self.message_id(delivery_id)
        message["List-Id"] = self.list_id
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(personalise(self.text, values))
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        message.add_alternative(personalise(self.html, escaped), subtype="html")
        return message.as_bytes(policy=SMTP_POLICY)


def _address(recipient: Recipient) -> str:
    local, _, domain = recipient.email.rpartition("@")
    return str(Address(display_name=recipient.name or "", username=local, domain=domain))


def _sender_domain(sender: str) -> str:
    addresses = getaddresses([sender])
    address = addresses[0][1] if addresses else ""
    return address.rpartition("@")[2] or "localhost"


def _list_id_label(list_name: str) -> str:
    label = "".join(c.lower() if c.isalnum() else "-" for c in list_name).strip("-")
    while "--" in label:
        label = label.replace("--", "-")
    return label or "digest"


def site_links(base_url: str, secret_key: str) -> SiteLinks:
    parts = urlsplit(base_url)
    return SiteLinks(base_url=f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", secret_key=secret_key)
