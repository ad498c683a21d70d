"""Requests that follow a link without a person behind them: they are redirected but not counted.

Told apart only by what they say about themselves: HEAD; a browser's prefetch or preview
(``Sec-Purpose``/``Purpose: prefetch``, ``X-Purpose: preview``, ``X-Moz: prefetch``); a User-Agent that
names a bot, crawler, spider or link preview (Slack, Teams, Facebook, Twitter, WhatsApp, Googlebot…).
Mail security scanners that pose as browsers cannot be told and are counted."""

from __future__ import annotations

import re
from collections.abc import Mapping

_PREFETCH_HEADERS = {"sec-purpose": "prefetch", "purpose": "prefetch", "x-purpose": "preview", "x-moz": "prefetch"}
_ROBOT = re.compile(
    r"bot\b|bot/|crawler|spider|preview|facebookexternalhit|slurp|whatsapp|skypeuripreview|headless", re.I
)


def is_prefetch(method: str, headers: Mapping[str, str]) -> bool:
    if method.upper() != "GET":
        return True
    for name, marker in _PREFETCH_HEADERS.items():
        if marker in (headers.get(name) or "").lower():
            return True
    return bool(_ROBOT.search((headers.get("User-Agent") or "")[:512]))
