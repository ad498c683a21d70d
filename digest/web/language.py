"""The language of a page (Flask-Babel): the subscriber's on the pages they reach from an email
(preferences, unsubscribe, confirmation), once the view knows who they are; the site's elsewhere.
A language without a catalog gets the site's (digest.rendering.i18n.language_for)."""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import Babel, get_locale, gettext, refresh

from digest.errors import DigestError
from digest.rendering.i18n import DOMAIN, SHIPPED, TRANSLATIONS_DIR, language_for

_CHOSEN = "digest_page_language"


def install(app: Flask, site_language: str) -> None:
    default = language_for(site_language)

    def selector() -> str:
        return language_for(g.get(_CHOSEN), default)

    Babel(
        app,
        default_locale=default,
        default_domain=DOMAIN,
        default_translation_directories=str(TRANSLATIONS_DIR),
        locale_selector=selector,
    )
    app.context_processor(lambda: {"page_language": str(get_locale() or default)})


def use_language(language: str | None) -> None:
    """This request's page is for someone reading `language`: what is translated from here on is in it."""
    setattr(g, _CHOSEN, language)
    refresh()


def use_browser_language() -> None:
    """For a page that does not know whose it is (a link that does not work): the language the browser
    asks for first among those that ship (Accept-Language), else the site's. A language already chosen stays."""
    best = request.accept_languages.best_match(SHIPPED)
    if best and g.get(_CHOSEN) is None:
        use_language(best)


def say(error: DigestError) -> str:
    """A domain error worded in this page's language (its msgid, if marked with N_, is in the catalogs;
    one that is not stays as the domain wrote it)."""
    if not error.msgid:
        return str(error)
    return gettext(error.msgid, **error.values)
