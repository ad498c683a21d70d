"""The queue (/editor/) and what editors do from it: approve, reject with a note, feature, in bulk too."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest.items.queue import decide, feature
from digest.models import utcnow
from digest.web.context import runtime
from digest.web.editor.actions import FormError, back_to, form_ids, perform, plural
from digest.web.editor.auth import current_actor, login_required
from digest.web.editor.blueprint import blueprint
from digest.web.editor.queue_query import QueueFilters, closing_soon, deadline_passed, filter_choices, queue_page

DECISIONS = {"approve": "approved", "reject": "rejected"}
NOTE_MAX = 2000


@blueprint.get("/")
@login_required
def queue() -> ResponseReturnValue:
    filters = QueueFilters.from_args(request.args)
    with runtime().sessions() as session:
        page = queue_page(session, filters)
        choices = filter_choices(session)
    now = utcnow()
    return render_template(
        "queue.html",
        page=page,
        filters=filters,
        **choices,
        closing_soon={item.id for item in page.items if closing_soon(item, now)},
        deadline_passed={item.id for item in page.items if deadline_passed(item, now)},
        back=request.full_path.rstrip("?"),
    )


@blueprint.post("/items/decide")
@login_required
def decide_items() -> ResponseReturnValue:
    """Approve or reject one item or many (the queue's ticked rows)."""
    decision = DECISIONS.get(request.form.get("decision", ""))
    note = " ".join((request.form.get("note") or "").split())[:NOTE_MAX] or None

    def work(session: Session) -> str:
        if decision is None:
            raise FormError("choose approve or reject")
        ids = form_ids()
        if not ids:
            raise FormError("tick at least one item")
        items = decide(session, current_actor(), ids, decision, note, notify=runtime().config)
        return f"{decision.capitalize()} {plural(len(items), 'item')}" + (f" with the note “{note}”" if note else "")

    return perform(work, back_to(url_for("editor.queue")))


@blueprint.post("/items/<int:item_id>/feature")
@login_required
def feature_item(item_id: int) -> ResponseReturnValue:
    featured = request.form.get("featured", "1") == "1"

    def work(session: Session) -> str:
        [item] = feature(session, current_actor(), [item_id], featured)
        return f"“{item.title}” is {'featured' if featured else 'no longer featured'}"

    return perform(work, back_to(url_for("editor.queue")))
