"""Signed, opaque tokens for the links in emails (unsubscribe, preferences, confirmation).

A token carries the subscriber's random uid (never the id or address) and is signed with the
secret key under a purpose-specific salt, so a token for one purpose is useless for another.
"""

from __future__ import annotations

import functools
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

PURPOSES = ("unsubscribe", "preferences", "confirm", "change_email", "submission")


class TokenError(DigestError):
    """A token that is forged, for another purpose, or expired."""


def make_token(secret_key: str, purpose: str, value: str) -> str:
    return _serializer(secret_key, purpose).dumps(value)


def read_token(secret_key: str, purpose: str, token: str, max_age_seconds: int | None = None) -> str:
    try:
        if max_age_seconds is None:
            value = _serializer(secret_key, purpose).loads(token)
        else:
            value = _timed_serializer(secret_key, purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise TokenError("this link has expired") from None
    except BadSignature:
        raise TokenError("this link is not valid") from None
    if not isinstance(value, str):
        raise TokenError("this link is not valid")
    return value


def make_timed_token(secret_key: str, purpose: str, value: str) -> str:
    return _timed_serializer(secret_key, purpose).dumps(value)


def read_timed_token(secret_key: str, purpose: str, token: str, max_age_seconds: int) -> tuple[str, datetime]:
    """The value of an expiring token and when it was signed (aware UTC)."""
    try:
        value, signed_at = _timed_serializer(secret_key, purpose).loads(
            token, max_age=max_age_seconds, return_timestamp=True
        )
    except SignatureExpired:
        raise TokenError("this link has expired") from None
    except BadSignature:
        raise TokenError("this link is not valid") from None
    if not isinstance(value, str):
        raise TokenError("this link is not valid")
    return value, signed_at


@functools.lru_cache(maxsize=64)
def _serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    _check_purpose(purpose)
    return _Uncompressed(secret_key, salt=f"digest.{purpose}")


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
