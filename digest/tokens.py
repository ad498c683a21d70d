"""Signed, opaque tokens for the links in emails (unsubscribe, preferences, confirmation).

A token carries the subscriber's random uid (never the id or address) and is signed with the
secret key under a purpose-specific salt, so a token for one purpose is useless for another.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from digest.errors import DigestError

PURPOSES = ("unsubscribe", "preferences", "confirm", "submission")


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


def _serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    _check_purpose(purpose)
    return URLSafeSerializer(secret_key, salt=f"digest.{purpose}")


def _timed_serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    _check_purpose(purpose)
    return URLSafeTimedSerializer(secret_key, salt=f"digest.timed.{purpose}")


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
