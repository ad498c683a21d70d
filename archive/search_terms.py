"""The words of a search, and the words that stand for an item's kind or an edition's type."""

from __future__ import annotations

import re

MAX_TERMS = 10
_WORD = re.compile(r"[^\W_]+")

# Searching "events" or "open calls" finds items of that kind, not only the literal kind name.
KIND_WORDS = {
    "news": "news",
    "event": "event events",
    "call": "call calls open funding",
    "achievement": "achievement achievements",
}
EDITION_WORDS = {
    "digest": "edition editions weekly digest",
    "newsletter": "edition editions newsletter",
}


def terms_of(query: str) -> list[str]:
    """The query's words, lowercased, letters and digits only (safe in FTS5, tsquery and LIKE)."""
    return [word.lower() for word in _WORD.findall(query or "")][:MAX_TERMS]
