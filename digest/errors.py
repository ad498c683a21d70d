"""The one base class of every error a user can fix: commands show its text on one line."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class DigestError(Exception):
    """A problem worded for the person who has to fix it (never a traceback).

    ``str(error)`` is English (the commands' language). A message marked with ``N_`` keeps its msgid and
    values apart (``error.msgid``, ``error.values``), so a page can word it in its reader's language
    (digest.web.language.say) without this layer knowing about Flask or Babel.
    """

    def __init__(self, message: str = "", **values: object) -> None:
        self.msgid, self.values = message, values
        super().__init__(message % values if values else message)


def required(found: T | None, error: type[DigestError], missing: str) -> T:
    """What a lookup found, or ``error(missing)`` when it found nothing."""
    if found is None:
        raise error(missing)
    return found
