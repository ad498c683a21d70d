"""Signed, opaque tokens for the links in emails (unsubscribe, preferences, confirmation).

A token carries the subscriber's random uid (never the id or address) and is signed with the
secret key under a purpose-specific salt, so a token for one purpose is useless for another.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from itsdangerous import (
    BadSignature,
    Serializer,
    SignatureExpired,
    URLSafeSerializer,
    URLSafeTimedSerializer,
    base64_encode,
)

from digest.errors import DigestError
from digest.marked import N_

PURPOSES = ("unsubscribe", "preferences", "confirm", "change_email", "submission", "click", "click_delivery")


class TokenError(DigestError):
    """A token that is forged, for another purpose, or expired."""


def make_token(secret_key: str, purpose: str, value: str) -> str:
    return _token_maker(secret_key, purpose)(value)


def read_token(secret_key: str, purpose: str, token: str, max_age_seconds: int | None = None) -> str:
    if max_age_seconds is not None:
        return read_timed_token(secret_key, purpose, token, max_age_seconds)[0]
    with _link_errors():
        value = _serializer(secret_key, purpose).loads(token)
    return _text(value)


def make_timed_token(secret_key: str, purpose: str, value: str) -> str:
    return _timed_serializer(secret_key, purpose).dumps(value)


def read_timed_token(secret_key: str, purpose: str, token: str, max_age_seconds: int) -> tuple[str, datetime]:
    """The value of an expiring token and when it was signed (aware UTC)."""
    with _link_errors():
        value, signed_at = _timed_serializer(secret_key, purpose).loads(
            token, max_age=max_age_seconds, return_timestamp=True
        )
    return _text(value), signed_at


def read_signed_value(secret_key: str, purpose: str, token: str) -> str:
    """The value of an expiring token whose signature holds, however old (only to say whose it was)."""
    with _link_errors():
        value = _timed_serializer(secret_key, purpose).loads(token)
    return _text(value)


@contextmanager
def _link_errors() -> Iterator[None]:
    """A token that does not read is a link the visitor is told is expired or not valid."""
    try:
        yield
    except SignatureExpired:
        raise TokenError(N_("this link has expired")) from None
    except BadSignature:
        raise TokenError(N_("this link is not valid")) from None


def _text(value: Any) -> str:
    """What a token carries: always a string, so anything else was not made by us."""
    if not isinstance(value, str):
        raise TokenError(N_("this link is not valid"))
    return value


@functools.lru_cache(maxsize=64)
def _serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    _check_purpose(purpose)
    return _Uncompressed(secret_key, salt=f"digest.{purpose}")


class _TokenMaker:
    """Makes the tokens `_serializer(secret_key, purpose).dumps` makes, byte for byte, from a key derived
    once: itsdangerous derives it (one more hash) and sets up a new HMAC for every token, and a worker
    signs two tokens for each message it sends."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        signer = _serializer(secret_key, purpose).make_signer()
        if signer.key_derivation != "django-concat" or signer.digest_method().name != "sha1":
            raise RuntimeError("itsdangerous changed its defaults: update _TokenMaker")  # caught by the tests
        self._mac = hmac.new(signer.derive_key(), digestmod=hashlib.sha1)
        self._separator = signer.sep

    def __call__(self, value: str) -> str:
        if _plain(value):  # a uid: its JSON is the value in quotes
            payload = _base64(f'"{value}"'.encode("ascii"))
        else:
            payload = _base64(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        mac = self._mac.copy()
        mac.update(payload)
        return (payload + self._separator + _base64(mac.digest())).decode("ascii")


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _base64(data: bytes) -> bytes:
    """itsdangerous.base64_encode in one call: URL-safe base64 without padding (it takes four Python calls,
    and a message's two tokens take four encodings)."""
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=")


def _plain(value: str) -> bool:
    """Whether the value is only ASCII letters, digits, "_", "." and "-" (as a uid is), without a regular
    expression: two tokens are made for every message sent."""
    return value.isascii() and (not value or value.replace("-", "a").replace("_", "a").replace(".", "a").isalnum())


@functools.lru_cache(maxsize=64)
def _token_maker(secret_key: str, purpose: str) -> _TokenMaker:
    return _TokenMaker(secret_key, purpose)


@functools.lru_cache(maxsize=64)
def _timed_serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    _check_purpose(purpose)
    return URLSafeTimedSerializer(secret_key, salt=f"digest.timed.{purpose}")


class _Uncompressed(URLSafeSerializer):
    """No zlib pass when signing: a random uid never shrinks, and compressing was the dearest step of
    the two tokens every message carries. Reading still accepts compressed payloads."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
