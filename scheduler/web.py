"""The editors' schedule page (/editor/schedule): each job's next run and the result of its last."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from digest.models import utcnow
from digest.web.context import runtime
from digest.web.editor import login_required
from scheduler.status import scheduler_status

blueprint = Blueprint("schedule", __name__)


@blueprint.get("")
@login_required
def page() -> ResponseReturnValue:
    status = scheduler_status(runtime(), utcnow())
    return render_template("schedule.html", status=status, timezone=runtime().config.site.timezone)
