"""A title's keys for finding near-duplicates: the normalised title, and for a long one its first and
last three words, which Item stores in indexed columns (sources.dedup compares them as the collectors do)."""

from __future__ import annotations

import re
import unicodedata

MIN_FUZZY_TITLE_LENGTH = 24  # shorter title keys are only ever compared whole
_NON_WORD = re.compile(r"[^\w]+")


def title_key(title: str) -> str:
    """Lower case, no accents, no punctuation, single spaces: "Café-Day 2026!" → "cafe day 2026"."""
    folded = title.casefold()
    if not folded.isascii():
        decomposed = unicodedata.normalize("NFKD", folded)
        folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_NON_WORD.sub(" ", folded).split())


def title_edges(key: str) -> tuple[str, str]:
    """The first and last three words of a title key, marked so the two never meet."""
    words = key.split()
    return "^" + " ".join(words[:3]), "$" + " ".join(words[-3:])


def title_index(title: str | None) -> tuple[str | None, str | None, str | None]:
    """What Item stores to find a title's near-duplicates through an index: its title key, and the first
    and last three words of a key long enough for a fuzzy comparison (None otherwise)."""
    key = title_key(title or "")[:500]
    if not key:
        return None, None, None
    if len(key) < MIN_FUZZY_TITLE_LENGTH:
        return key, None, None
    head, tail = title_edges(key)
    return key, head[:500], tail[:500]
