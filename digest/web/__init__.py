"""The web app: public pages, the archive and the editors' pages (Flask, served by waitress)."""

from __future__ import annotations

from flask import Flask
from flask_wtf import CSRFProtect

from archive import web as archive_web
from digest.rendering.render import DEFAULT_TEMPLATES_DIR
from digest.runtime import Runtime
from digest.web import bounces_api, clicks, editor, errors, headers, language, limits, public, submission, subscription
from scheduler import web as schedule_web


def create_app(runtime: Runtime) -> Flask:
    app = Flask(__name__, template_folder=str(DEFAULT_TEMPLATES_DIR / "web"))
    secure = runtime.config.site.base_url.startswith("https://")
    app.config.update(
        SECRET_KEY=runtime.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_NAME="digest_session",
        PERMANENT_SESSION_LIFETIME=60 * 60 * 12,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.extensions["digest.runtime"] = runtime
    language.install(app, runtime.config.site.language)  # gettext in the pages: the reader's language or the site's
    errors.install(app)  # busy database: 503; out-of-range numbers: 400/404
    public.install(app)  # `links` in every template; 404s and other errors in the site's layout
    CSRFProtect(app)
    limits.install(app, runtime.config.limits)  # before the blueprints: they limit their own views
    app.register_blueprint(public.blueprint)
    app.register_blueprint(archive_web.blueprint)  # home page, archive, feeds, search, calendars; kept pages
    app.register_blueprint(editor.blueprint, url_prefix="/editor")
    app.register_blueprint(subscription.blueprint)  # /subscribe, /confirm, /preferences, /unsubscribe
    app.register_blueprint(submission.blueprint)  # /submit, /submit/status/<token>, POST /api/submissions
    app.register_blueprint(clicks.blueprint)  # /l/<token>: count a click, redirect to the edition's link
    app.register_blueprint(schedule_web.blueprint, url_prefix="/editor/schedule")  # jobs: next run, last result
    app.register_blueprint(bounces_api.blueprint)  # POST /api/bounces: a relay's bounces and complaints
    app.jinja_env.globals["site"] = runtime.config.site
    app.jinja_env.filters["local_time"] = public.local_time_filter(runtime.config.site.timezone)
    app.jinja_env.filters["item_dates"] = public.item_dates_filter(runtime.config.site.timezone)
    headers.install(app, runtime.config.site.base_url, runtime.config.web.trusted_proxies)
    return app
