"""Pages that carry a secret token in their address (a subscriber's, a submitter's)."""

from __future__ import annotations

from flask import Response


def keep_private(response: Response) -> Response:
    """Not cached, not indexed, and the address (its token) not sent on in a Referer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token must not leave in a Referer
    response.headers["X-Robots-Tag"] = "noindex"
    return response
