"""The languages subscribers read: which ones ship, which one a subscriber gets, and their catalogs.

Catalogs are gettext files under ``digest/translations/<lang>/LC_MESSAGES/messages.{po,mo}``
(``pybabel compile`` writes the ``.mo`` from the ``.po``; tests/rendering/test_catalogs.py holds the
two to each other). Each language's catalog is loaded once per process. English is the source
language: its messages are the msgids themselves.

Pure: used by the renderer, the delivery notices and the web pages alike.
"""

from __future__ import annotations

import threading
from pathlib import Path

from babel.support import NullTranslations, Translations

from digest.marked import N_

__all__ = ["DOMAIN", "LANGUAGE_NAMES", "N_", "SHIPPED", "TRANSLATIONS_DIR", "language_for", "translations"]

TRANSLATIONS_DIR = Path(__file__).resolve().parents[1] / "translations"
DOMAIN = "messages"
# The languages with a catalog, English first (the source). Adding one: README "Adding a language".
SHIPPED = ("en", "fr", "de", "es")
# Each language named in itself, as the language menus offer it.
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español"}

_loaded: dict[str, NullTranslations] = {}
_lock = threading.Lock()


def _shipped(code: str | None) -> str | None:
    """The shipped language a code means: "fr", "fr-CA" and "fr_BE" all mean French."""
    if not code:
        return None
    primary = code.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SHIPPED else None


def language_for(code: str | None, site_language: str | None = None) -> str:
    """The language someone gets: theirs if it ships, else the site's if that ships, else English."""
    return _shipped(code) or _shipped(site_language) or SHIPPED[0]


def translations(language: str) -> NullTranslations:
    """The catalog of a shipped language (English, or any other code: no translation at all)."""
    language = _shipped(language) or SHIPPED[0]
    with _lock:
        found = _loaded.get(language)
        if found is None:
            if language == SHIPPED[0]:
                found = NullTranslations()
            else:
                found = Translations.load(str(TRANSLATIONS_DIR), [language], DOMAIN)
                if not isinstance(found, Translations):  # Babel answers a missing .mo with a NullTranslations
                    raise FileNotFoundError(f"no compiled catalog for {language!r} in {TRANSLATIONS_DIR}")
            _loaded[language] = found
        return found
