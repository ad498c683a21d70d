"""The words of a search (the words that stand for an item's kind or an edition's type: digest.search_document)."""

from __future__ import annotations

import re

MAX_TERMS = 10
_WORD = re.compile(r"[^\W_]+")


def terms_of(query: str) -> list[str]:
    """The query's words, lowercased, letters and digits only (safe in FTS5, tsquery and LIKE)."""
    return [word.lower() for word in _WORD.findall(query or "")][:MAX_TERMS]
