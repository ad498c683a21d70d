"""Public pages: the health check. (The home page and the archive live in the `archive` package.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from digest.web.context import runtime

blueprint = Blueprint("public", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    with runtime().sessions() as session:
        session.execute(text("SELECT 1"))
    return jsonify(status="ok", database="ok")


def local_time_filter(timezone: str) -> Callable[[datetime | None], str]:
    zone = ZoneInfo(timezone)

    def local_time(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%d %b %Y, %H:%M") if value else "—"

    return local_time
