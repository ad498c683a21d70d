"""The public copy of a frozen edition: the email as subscribers saw it, minus anything personal.

The frozen HTML carries per-recipient markers (``digest.rendering.render.PLACEHOLDERS``). Here the
unsubscribe link goes (with the separator before it), the preferences link becomes a plain
"Subscribe" link, and every other marker gets a neutral value ("Dear reader").
"""

from __future__ import annotations

import html
import re

from digest.rendering.render import PLACEHOLDERS, personalise

NEUTRAL_NAME = "reader"
_SEPARATOR = r"(?:\s|&nbsp;|&#160;|\u00a0)*(?:·|&middot;|&#183;|\|)(?:\s|&nbsp;|&#160;|\u00a0)*"
_ANY_MARKER = re.compile(r"XDIGESTX-[A-Za-z0-9_]+-XDIGESTX")


def _anchor(key: str) -> str:
    marker = re.escape(PLACEHOLDERS[key])
    return rf"<a\b[^>]*\bhref=(['\"]){marker}\1[^>]*>.*?</a>"


_UNSUBSCRIBE_LINK = re.compile(rf"(?:{_SEPARATOR})?{_anchor('unsubscribe_url')}", re.S | re.I)
_PREFERENCES_LINK = re.compile(_anchor("preferences_url"), re.S | re.I)
_ANCHOR_TEXT = re.compile(r"(<a\b[^>]*>).*?(</a>)", re.S | re.I)


def public_copy(frozen_html: str, subscribe_url: str) -> str:
    """The edition's HTML with no subscriber's name, token or personal link in it."""
    document = _UNSUBSCRIBE_LINK.sub("", frozen_html)
    # the preferences link keeps its place and style, says "Subscribe" and gets the subscribe URL below
    document = _PREFERENCES_LINK.sub(lambda match: _ANCHOR_TEXT.sub(r"\1Subscribe\2", match.group(0), 1), document)
    values = {key: html.escape(subscribe_url, quote=True) if key.endswith("_url") else "" for key in PLACEHOLDERS}
    values["name"] = NEUTRAL_NAME
    document = personalise(document, values)
    return _ANY_MARKER.sub("", document)  # a marker added to the templates later must not leak either


_TOKEN_PATH = re.compile(r"/(?:unsubscribe|preferences|confirm)/[A-Za-z0-9._~%-]+")


def personal_leaks(document: str, base_url: str) -> list[str]:
    """Anything in a public document that belongs to one subscriber: a marker, or a token link of the site."""
    leaks = _ANY_MARKER.findall(document)
    site = re.escape(base_url.rstrip("/"))
    leaks += [match.group(0) for match in re.finditer(site + _TOKEN_PATH.pattern, document)]
    return leaks
