"""The gettext catalogs: every message of the templates and the code is translated in French, German
and Spanish, with the same placeholders; what the application loads (the compiled .mo) says what the
.po says; and a language without a catalog gets the site's."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from digest.rendering.i18n import LANGUAGE_NAMES, SHIPPED, TRANSLATIONS_DIR, language_for, translations

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [language for language in SHIPPED if language != "en"]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "_l": None}


def _catalog(language: str):
    with (TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def _source_messages() -> set[str | tuple[str, str]]:
    """Every message marked in the sources, as babel.cfg tells `pybabel extract` to find them."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_language_offered_has_a_catalog() -> None:
    assert {"en", "fr", "de", "es"} <= set(SHIPPED) and set(LANGUAGE_NAMES) == set(SHIPPED)
    assert all((TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.mo").is_file() for language in TRANSLATED)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_of_the_templates_and_code_is_translated(language: str) -> None:
    sources = _source_messages()
    assert {"Unsubscribe", "Read more", "In this issue", "Your subscription", "News"} <= sources  # found at all
    catalog = _catalog(language)
    translated = {
        (message.id if isinstance(message.id, str) else tuple(message.id))
        for message in catalog
        if message.id
        and not message.fuzzy
        and all(message.string if isinstance(message.string, tuple) else [message.string])
    }
    assert sorted(map(str, sources - translated)) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_translation_keeps_the_placeholders(language: str) -> None:
    problems = [(message.id, [str(error) for error in errors]) for message, errors in _catalog(language).check()]
    assert problems == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalog_says_what_the_po_says(language: str) -> None:
    """The application loads the .mo (`pybabel compile`); a .po edited without compiling fails here."""
    loaded = translations(language)
    for message in _catalog(language):
        if not message.id:
            continue
        if isinstance(message.id, str):
            assert loaded.gettext(message.id) == message.string, message.id
        else:
            singular, plural = message.id
            assert loaded.ngettext(singular, plural, 1) == message.string[0], message.id
            assert loaded.ngettext(singular, plural, 5) == message.string[-1], message.id


def test_a_language_without_a_catalog_gets_the_site_language() -> None:
    assert language_for("fr", "en") == "fr" and language_for("fr-CA", "en") == "fr" and language_for("de_AT") == "de"
    assert language_for("it", "es") == "es" and language_for("pt-BR", "fr") == "fr" and language_for(None, "de") == "de"
    assert language_for("it", "nl") == "en"  # neither has a catalog: the source language
    assert translations("it").gettext("Unsubscribe") == "Unsubscribe"
