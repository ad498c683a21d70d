"""The one base class of every error a user can fix: commands show its text on one line."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class DigestError(Exception):
    """A problem worded for the person who has to fix it (never a traceback)."""


def required(found: T | None, error: type[DigestError], missing: str) -> T:
    """What a lookup found, or ``error(missing)`` when it found nothing."""
    if found is None:
        raise error(missing)
    return found
