"""Public pages: the home page, health check and the archive page of a sent edition."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select, text

from digest.models import Edition
from digest.render import personalise
from digest.web.context import runtime

blueprint = Blueprint("public", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    with runtime().sessions() as session:
        session.execute(text("SELECT 1"))
    return jsonify(status="ok", database="ok")


@blueprint.get("/")
def home() -> ResponseReturnValue:
    with runtime().sessions() as session:
        editions = session.scalars(
            select(Edition).where(Edition.status == "sent").order_by(Edition.sent_at.desc()).limit(10)
        ).all()
    return render_template("home.html", editions=editions)


@blueprint.get("/archive/<slug>")
def archive_edition(slug: str) -> ResponseReturnValue:
    with runtime().sessions() as session:
        edition = session.scalar(select(Edition).where(Edition.slug == slug, Edition.status == "sent"))
    if edition is None or not edition.html:
        abort(404)
    home_url = runtime().config.site.base_url + "/"
    # The archive copy carries nobody's personal links.
    return personalise(edition.html, {"name": "reader", "unsubscribe_url": home_url, "preferences_url": home_url})


def local_time_filter(timezone: str) -> Callable[[datetime | None], str]:
    zone = ZoneInfo(timezone)

    def local_time(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%d %b %Y, %H:%M") if value else "—"

    return local_time
