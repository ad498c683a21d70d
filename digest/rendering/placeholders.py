"""The per-recipient markers the renderer leaves in an edition's HTML and text, and nothing else: the
delivery worker fills them for every message, and must not import the renderer (Jinja2, MJML,
premailer, lxml) to know them."""

from __future__ import annotations

import re

# Plain alphanumerics, '-' and '_' only: they pass through MRML, lxml and premailer unchanged, in href
# attributes as well as in text (no percent-encoding, no entities).
MARKER_FRAME = "XDIGESTX"
PLACEHOLDERS: dict[str, str] = {
    key: f"{MARKER_FRAME}-{key}-{MARKER_FRAME}" for key in ("name", "unsubscribe_url", "preferences_url")
}
MARKER_RE = re.compile(rf"{MARKER_FRAME}-([A-Za-z0-9_]+)-{MARKER_FRAME}")
