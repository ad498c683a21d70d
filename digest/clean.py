"""Input as the database can store it: no NUL or other control characters, no lone surrogates.

PostgreSQL refuses NUL in text (a 500 where SQLite stored it), and neither engine's driver can encode a
lone surrogate, which JSON's \\ud800 escapes produce. Every way in (forms, the JSON API, CSV imports)
passes its text through `strip_controls`; feeds go through digest.rendering.text.clean_text."""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab, newline and carriage return; DEL and the C1 controls; surrogates; two non-characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def strip_controls(value: str) -> str:
    return _CONTROL.sub("", value)


def has_controls(value: str) -> bool:
    return _CONTROL.search(value) is not None


def strip_filter(value: Any) -> Any:
    """A WTForms filter: strings lose their control characters, anything else passes unchanged."""
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, list):
        return [strip_controls(part) if isinstance(part, str) else part for part in value]
    return value
