"""One item (/editor/items/<id>): everything known about it, where it came from, its edit form and trail."""

from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest import audit
from digest.errors import DigestError
from digest.models import ITEM_KINDS, Edition, EditionItem, Item, utcnow
from digest.web.context import runtime
from digest.web.editor.actions import editor_path, perform
from digest.web.editor.auth import current_actor, login_required
from digest.web.editor.blueprint import blueprint
from digest.web.editor.item_changes import FROZEN_STATUSES, changes_from_form, edit_item
from digest.web.editor.local_time import input_value
from digest.web.editor.queue_query import closing_soon, deadline_passed, submissions_of


@blueprint.get("/items/<int:item_id>")
@login_required
def item(item_id: int) -> ResponseReturnValue:
    return _show(item_id, {})


def _show(item_id: int, form: dict[str, str], status: int = 200) -> ResponseReturnValue:
    timezone = runtime().config.site.timezone
    with runtime().sessions() as session:
        found = session.get(Item, item_id)
        if found is None:
            abort(404)
        values = form or _form_values(found, timezone)
        now = utcnow()
        return (
            render_template(
                "editor_item.html",
                item=found,
                submission=submissions_of(session, [found]).get(found.id),
                editions=_editions_of(session, found.id),
                trail=audit.entries_for(session, "item", found.id),
                values=values,
                kinds=ITEM_KINDS,
                frozen=found.status in FROZEN_STATUSES,
                closing_soon=closing_soon(found, now),
                deadline_passed=deadline_passed(found, now),
                timezone=timezone,
                back=editor_path(request.args.get("back"), url_for("editor.queue")),
            ),
            status,
        )


@blueprint.post("/items/<int:item_id>")
@login_required
def save_item(item_id: int) -> ResponseReturnValue:
    timezone = runtime().config.site.timezone
    try:
        changes = changes_from_form(request.form, timezone)
    except DigestError as error:
        flash(str(error), "error")
        return _show(item_id, dict(request.form), 422)

    def work(session: Session) -> str:
        found, changed = edit_item(session, item_id, changes)
        if not changed:
            return "Nothing changed."
        audit.record(session, current_actor(), "item.edited", "item", found.id, changed)
        return f"Saved: {', '.join(name.replace('_', ' ') for name in changed)}."

    return perform(work, url_for("editor.item", item_id=item_id))


def _form_values(found: Item, timezone: str) -> dict[str, str]:
    return {
        "title": found.title,
        "summary": found.summary or "",
        "kind": found.kind,
        "url": found.url or "",
        "organisation": found.organisation or "",
        "country": found.country or "",
        "location": found.location or "",
        "published_at": input_value(found.published_at, timezone),
        "starts_at": input_value(found.starts_at, timezone),
        "ends_at": input_value(found.ends_at, timezone),
        "deadline": input_value(found.deadline, timezone),
    }


def _editions_of(session: Session, item_id: int) -> list[tuple[Edition, str]]:
    rows = session.execute(
        select(Edition, EditionItem.section)
        .join(EditionItem, EditionItem.edition_id == Edition.id)
        .where(EditionItem.item_id == item_id)
        .order_by(Edition.created_at.desc())
    )
    return [(edition, section) for edition, section in rows]
