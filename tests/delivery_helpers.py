"""Helpers for the delivery tests: a queued edition, the ledger, keys and certificates made on the spot."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from digest.audit import SYSTEM
from digest.config import load_config
from digest.db import upgrade
from digest.delivery.ledger import start_sending
from digest.delivery.worker import Worker
from digest.editions.lifecycle import create_edition
from digest.models import Delivery, Subscriber, utcnow
from digest.runtime import Runtime
from tests.certificates import self_signed, server_context
from tests.factories import make_item, make_subscribers


def smtp_runtime_for(write_config: Callable[..., Path], port: int, **sections: Any) -> Runtime:
    smtp = {"host": "127.0.0.1", "port": port, "timeout_seconds": 5} | sections.pop("smtp", {})
    delivery = {"batch_size": 7, "lease_seconds": 60, "max_attempts": 3, "retry_seconds": 0.05}
    mail = {"transport": "smtp", "smtp": smtp} | sections.pop("mail", {})
    path = write_config(mail=mail, delivery=delivery | sections.pop("delivery", {}), **sections)
    runtime = Runtime(load_config(path, environ={}))
    upgrade(runtime.engine)
    return runtime


def drain(runtime: Runtime, clock: Callable[[], datetime] = utcnow) -> Worker:
    """A delivery worker sends everything queued, its clock at ``clock``; the worker, for its stats."""
    worker = Worker(runtime, clock=clock)
    try:
        worker.drain()
    finally:
        worker.close()
    return worker


def queue_edition(runtime: Runtime, subscribers: int, edition_type: str = "digest") -> tuple[int, list[str]]:
    """An edition of two items queued for `subscribers` active readers (plus a few who must not get it)."""
    with runtime.sessions() as session, session.begin():
        make_item(session, "Cluster news for delivery")
        make_item(session, "An event for delivery", kind="event")
        readers = make_subscribers(session, subscribers)
        make_subscribers(session, 2, status="unsubscribed", prefix="gone")
        make_subscribers(session, 1, status="pending", prefix="unconfirmed")
        edition = create_edition(session, runtime.config, SYSTEM, edition_type).require()
        start_sending(session, runtime.config, edition.id)
        return edition.id, [reader.email for reader in readers]


def statuses(runtime: Runtime, edition_id: int) -> dict[str, str]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.status).join(Delivery.subscriber).where(Delivery.edition_id == edition_id)
        )
        return dict(rows.all())


def rsa_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def dkim_key_pair(folder: Path) -> tuple[Path, bytes]:
    """A private key file (PKCS#1 PEM, as dkimpy reads it) and the DNS TXT record that publishes it."""
    key = rsa_private_key()
    path = folder / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def tls_server_context(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for 127.0.0.1, and the certificate file a client
    can trust (point SSL_CERT_FILE at it)."""
    cert_path, key_path = self_signed(folder, "127.0.0.1")
    return server_context(cert_path, key_path), cert_path
