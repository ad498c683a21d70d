"""The security headers of every response: Content-Security-Policy, Referrer-Policy, nosniff, framing;
and Werkzeug's ProxyFix for `web.trusted_proxies` reverse proxies."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix


def content_security_policy(base_url: str) -> str:
    """No inline or foreign script anywhere: the pages' scripts are files under digest/web/static/.

    style-src allows 'unsafe-inline': the public copy of an edition is the email's HTML, whose styles are
    inlined into style="…" attributes (premailer) as mail clients need them, and the pages carry <style>
    blocks and dozens of style attributes (the send progress bar's widths are computed per request).
    Inline CSS cannot run script, and script-src stays strict."""
    site = urlsplit(base_url)
    form_targets = "'self'" + (f" {site.scheme}://{site.netloc}" if site.netloc else "")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src * data:",  # an edition's images (logos, items' pictures) live on the sources' sites
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {form_targets}",
            "frame-ancestors 'self'",  # the editors' edition page frames its own preview; nobody else may
        ]
    )


def install(app: Flask, base_url: str, trusted_proxies: int) -> None:
    policy = content_security_policy(base_url)

    @app.after_request
    def security_headers(response: Response) -> Response:
        # setdefault: a page with a stricter policy of its own (the edition preview) keeps it.
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")  # frame-ancestors for older browsers
        return response

    if trusted_proxies:
        # Only the last N hops are believed: a client cannot pick its own address by sending the header.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies
        )
