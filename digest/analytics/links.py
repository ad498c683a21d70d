"""Click-tracked links in an edition's email, made once per edition when it is frozen.

Every http(s) link of the HTML part (``<a href>``) and of the text part becomes ``base_url/l/<token>``:
the token is signed with the site's secret (digest.subscribers.tokens, purpose "click") and names the
edition and the link's number, never the URL, so the redirect can only lead where the edition led.
The same URL gets the same number in both parts. Never rewritten: the personal links (unsubscribe,
preferences: still placeholder markers here), the view-in-browser/archive copy link, mailto: and every
other non-http link. With ``per_delivery`` each tracked link ends in ``/<DELIVERY_MARKER>``, which the
message builder fills per recipient with one signed token naming the delivery (one signature a message).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from digest.subscribers.tokens import make_token

# The renderer's placeholder frame (digest.rendering.render): passes MRML, lxml, premailer and QP unchanged.
DELIVERY_MARKER = "XDIGESTX-click_delivery-XDIGESTX"
_PERSONAL = "XDIGESTX-"  # any placeholder marker: a per-recipient link is never tracked
_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")', re.I)
_TEXT_URL = re.compile(r"https?://[^\s<>\"']+", re.I)
_TRAILING = ".,;:!?"
MAX_URL = 2048  # edition_links.url; a longer link is left as it is


@dataclass(frozen=True)
class Tracked:
    html: str
    text: str
    urls: tuple[str, ...]  # link number n is urls[n - 1]


@dataclass(frozen=True)
class LinkTracker:
    base_url: str
    secret_key: str
    edition_id: int
    direct: frozenset[str]  # URLs left as they are (the archive copy)
    per_delivery: bool = False

    def track(self, html: str, text: str, known: tuple[str, ...] = ()) -> Tracked:
        """Both parts with their links tracked; `known` links (another rendering of the edition) keep their
        numbers and new ones follow them."""
        numbers: dict[str, int] = {url: number for number, url in enumerate(known, 1)}

        def tracked(url: str) -> str:
            number = numbers.setdefault(url, len(numbers) + 1)
            return self.link_url(number)

        def in_html(match: re.Match[str]) -> str:
            url = html_lib.unescape(match.group(2))
            if not self.tracks(url):
                return match.group(0)
            return match.group(1) + html_lib.escape(tracked(url), quote=True) + match.group(3)

        def in_text(match: re.Match[str]) -> str:
            url, tail = split_trailing(match.group(0))
            return tracked(url) + tail if self.tracks(url) else match.group(0)

        rich = _HREF.sub(in_html, html)
        plain = _TEXT_URL.sub(in_text, text)
        return Tracked(rich, plain, tuple(numbers))

    def tracks(self, url: str) -> bool:
        if _PERSONAL in url or url in self.direct or len(url) > MAX_URL:
            return False
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)

    def link_url(self, number: int) -> str:
        token = make_token(self.secret_key, "click", f"{self.edition_id}.{number}")
        suffix = f"/{DELIVERY_MARKER}" if self.per_delivery else ""
        return f"{self.base_url}/l/{token}{suffix}"


def split_trailing(found: str) -> tuple[str, str]:
    """A URL found in running text, less the punctuation that ends the sentence or the "(…)" around it."""
    url = found
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("("))):
        url = url[:-1]
    return url, found[len(url) :]


def delivery_tag(secret_key: str, edition_id: int, delivery_id: int) -> str:
    """What fills DELIVERY_MARKER in one recipient's message: a signed token naming their delivery."""
    return make_token(secret_key, "click_delivery", f"{edition_id}.{delivery_id}")


def tracker(base_url: str, secret_key: str, edition_id: int, direct: Iterable[str], per_delivery: bool) -> LinkTracker:
    return LinkTracker(base_url.rstrip("/"), secret_key, edition_id, frozenset(direct), per_delivery)
