"""``N_``: marks a message for the catalogs (pybabel extract -k N_) where it is written, in English,
without translating it there: the page or email that shows it words it in its reader's language.
A module of its own so that any layer can mark messages without loading Babel or Flask."""

from __future__ import annotations


def N_(message: str) -> str:
    """The message itself."""
    return message
