"""Composing an edition (/editor/editions/<id>): its texts, its sections and their order, adding and
removing items. Every change goes through digest.editions.arrange, which refuses an edition that has gone out."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest import audit
from digest.analytics.clicks import edition_clicks
from digest.bounces.health import list_health
from digest.delivery.recipients import recipient_count
from digest.editions.arrange import (
    TEXTS,
    add_items,
    move_item,
    remove_items,
    rename_section,
    sections_of,
    set_section_layout,
    set_texts,
    step_item,
    step_section,
)
from digest.editions.core import (
    EDITABLE_STATUSES,
    SECTION_KEYS,
    SECTIONS,
    EditionError,
    default_sections,
    get_edition,
    left_out_at_send,
    unsent_approved_items,
)
from digest.errors import DigestError
from digest.models import SECTION_LAYOUTS, utcnow
from digest.web.api_errors import error_response
from digest.web.context import runtime
from digest.web.editor.actions import FormError, form_ids, form_int, perform, plural
from digest.web.editor.auth import current_actor, is_admin, login_required
from digest.web.editor.blueprint import blueprint
from digest.web.editor.local_time import default_send_time, input_value
from digest.web.editor.progress import progress

NEW_SECTION = "__new__"


@blueprint.get("/editions/<int:edition_id>")
@login_required
def edition(edition_id: int) -> ResponseReturnValue:
    timezone = runtime().config.site.timezone
    with runtime().sessions() as session:
        try:
            found = get_edition(session, edition_id)
        except EditionError:
            abort(404)
        editable = found.status in EDITABLE_STATUSES
        present = {entry.item_id for entry in found.entries}
        candidates = [item for item in unsent_approved_items(session) if item.id not in present] if editable else []
        sections = sections_of(found)
        titles = [section.title for section in sections]
        keys = {section.key for section in sections}
        return render_template(
            "editor_edition.html",
            edition=found,
            sections=sections,
            layouts=SECTION_LAYOUTS,
            editable=editable,
            candidates=default_sections(candidates, utcnow()),
            # a default section renamed is offered by its new title only (its key is taken)
            section_choices=titles + [title for title in SECTIONS if SECTION_KEYS[title] not in keys],
            trail=audit.entries_for(session, "edition", found.id),
            progress=progress(session, found) if found.status in ("sending", "paused", "sent") else None,
            clicks=edition_clicks(session, found.id) if found.status in ("sending", "paused", "sent") else None,
            health=list_health(session),
            recipients=recipient_count(session, found) if editable else None,
            schedule_value=input_value(found.scheduled_at or default_send_time(timezone), timezone),
            timezone=timezone,
            is_admin=is_admin(),
            left_out=left_out_at_send(session, found, utcnow()),
        )


def _arrange(edition_id: int, anchor: str, work: Callable[[Session], str | None]) -> ResponseReturnValue:
    """Run a change; a script (drag and drop) gets JSON back, a form goes back to the page."""
    if request.headers.get("X-Requested-With") == "fetch":
        try:
            with runtime().sessions() as session, session.begin():
                message = work(session)
        except DigestError as error:
            return error_response(str(error), 409)
        return jsonify(ok=True, message=message)
    return perform(work, url_for("editor.edition", edition_id=edition_id) + anchor)


@blueprint.post("/editions/<int:edition_id>/texts")
@login_required
def edition_texts(edition_id: int) -> ResponseReturnValue:
    texts = {name: request.form.get(name) for name in TEXTS}

    def work(session: Session) -> str:
        changed = set_texts(session, current_actor(), edition_id, **texts)
        return f"Saved the {', '.join(changed)}." if changed else "Nothing changed."

    return _arrange(edition_id, "#texts", work)


@blueprint.post("/editions/<int:edition_id>/items")
@login_required
def edition_add_items(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        ids = form_ids()
        if not ids:
            raise FormError("tick the items to add")
        section = request.form.get("section") or ""
        if section == NEW_SECTION:
            section = request.form.get("new_section") or ""
        add_items(session, current_actor(), edition_id, ids, section)
        return f"Added {plural(len(ids), 'item')} to “{' '.join(section.split())}”."

    return _arrange(edition_id, "#sections", work)


@blueprint.post("/editions/<int:edition_id>/items/<int:item_id>/remove")
@login_required
def edition_remove_item(edition_id: int, item_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        remove_items(session, current_actor(), edition_id, [item_id])
        return f"Removed item {item_id} (it stays approved, for another edition)."

    return _arrange(edition_id, "#sections", work)


@blueprint.post("/editions/<int:edition_id>/move")
@login_required
def edition_move_item(edition_id: int) -> ResponseReturnValue:
    """Move an item up or down its section, or to a place in any section (drag and drop)."""

    def work(session: Session) -> None:
        item_id, direction = form_int("item_id"), request.form.get("direction")
        if direction:
            step_item(session, current_actor(), edition_id, item_id, direction)
        else:
            section = request.form.get("section") or None
            move_item(session, current_actor(), edition_id, item_id, form_int("position"), section)

    return _arrange(edition_id, f"#entry-{request.form.get('item_id', '')}", work)


@blueprint.post("/editions/<int:edition_id>/sections/move")
@login_required
def edition_move_section(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> None:
        title, direction = request.form.get("title", ""), request.form.get("direction", "")
        step_section(session, current_actor(), edition_id, title, direction)

    return _arrange(edition_id, "#sections", work)


@blueprint.post("/editions/<int:edition_id>/sections/rename")
@login_required
def edition_rename_section(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        title, new_title = request.form.get("title", ""), request.form.get("new_title", "")
        rename_section(session, current_actor(), edition_id, title, new_title)
        return f"Renamed “{title}”."

    return _arrange(edition_id, "#sections", work)


@blueprint.post("/editions/<int:edition_id>/sections/layout")
@login_required
def edition_section_layout(edition_id: int) -> ResponseReturnValue:
    """Show a section as cards or as a compact list."""

    def work(session: Session) -> str:
        title, chosen = request.form.get("title", ""), request.form.get("layout", "")
        changed = set_section_layout(session, current_actor(), edition_id, title, chosen)
        return f"“{title}” is shown as {chosen}." if changed else "Nothing changed."

    return _arrange(edition_id, "#sections", work)
