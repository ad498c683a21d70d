"""Public pages: the health check. (The home page and the archive live in the `archive` package.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from digest.rendering import dates
from digest.web.context import runtime

blueprint = Blueprint("public", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    with runtime().sessions() as session:
        session.execute(text("SELECT 1"))
    return jsonify(status="ok", database="ok")


def local_time_filter(timezone: str) -> Callable[[datetime | None], str]:
    """A moment of ours in the site's zone, with the zone: "5 Jan 2020, 09:00 CET"."""
    zone = dates.zone(timezone)

    def local_time(value: datetime | None) -> str:
        return dates.local_moment(value, zone)

    return local_time


def item_dates_filter(timezone: str) -> Callable[[Any], str]:
    """An item's event dates or deadline as the source meant them (digest.rendering.dates)."""

    def item_when(item: Any) -> str:
        return dates.item_dates(item, timezone) or ""

    return item_when
