"""Composing an edition (/editor/editions/<id>): its texts, its sections and their order, adding and
removing items. Every change goes through digest.editions.arrange, which refuses an edition that has gone out."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest import audit
from digest.editions.arrange import (
    add_items,
    layout,
    move_item,
    order_sections,
    remove_items,
    rename_section,
    set_texts,
)
from digest.editions.core import (
    EDITABLE_STATUSES,
    SECTIONS,
    EditionError,
    default_sections,
    get_edition,
    unsent_approved_items,
)
from digest.errors import DigestError
from digest.models import Edition, utcnow
from digest.web.context import runtime
from digest.web.editor.actions import FormError, form_ids, form_int, perform, plural
from digest.web.editor.auth import current_actor, is_admin, login_required
from digest.web.editor.blueprint import blueprint
from digest.web.editor.local_time import default_send_time, input_value
from digest.web.editor.progress import progress, recipient_count

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
        sections = layout(found)
        titles = [title for title, _ in sections]
        return render_template(
            "editor_edition.html",
            edition=found,
            sections=sections,
            editable=editable,
            candidates=default_sections(candidates, utcnow()),
            section_choices=titles + [title for title in SECTIONS if title not in titles],
            trail=audit.entries_for(session, "edition", found.id),
            progress=progress(session, found) if found.status in ("sending", "paused", "sent") else None,
            recipients=recipient_count(session, found) if editable else None,
            schedule_value=input_value(found.scheduled_at or default_send_time(timezone), timezone),
            timezone=timezone,
            is_admin=is_admin(),
        )


def _arrange(edition_id: int, anchor: str, work: Callable[[Session], str | None]) -> ResponseReturnValue:
    """Run a change; a script (drag and drop) gets JSON back, a form goes back to the page."""
    if request.headers.get("X-Requested-With") == "fetch":
        try:
            with runtime().sessions() as session, session.begin():
                message = work(session)
        except DigestError as error:
            return jsonify(ok=False, error=str(error)), 409
        return jsonify(ok=True, message=message)
    return perform(work, url_for("editor.edition", edition_id=edition_id) + anchor)


def _changed(session: Session, edition: Edition, action: str, **detail: object) -> None:
    audit.record(session, current_actor(), action, "edition", edition.id, detail)


@blueprint.post("/editions/<int:edition_id>/texts")
@login_required
def edition_texts(edition_id: int) -> ResponseReturnValue:
    form = request.form

    def work(session: Session) -> str:
        before = get_edition(session, edition_id)
        old = {name: getattr(before, name) for name in ("title", "subject", "preheader", "intro")}
        found = set_texts(
            session,
            edition_id,
            title=form.get("title"),
            subject=form.get("subject"),
            preheader=form.get("preheader"),
            intro=form.get("intro"),
        )
        changed = [name for name, value in old.items() if getattr(found, name) != value]
        if not changed:
            return "Nothing changed."
        _changed(session, found, "edition.texts_changed", fields=changed)
        return f"Saved the {', '.join(changed)}."

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
        found = add_items(session, edition_id, ids, section)
        _changed(session, found, "edition.items_added", items=ids, section=section)
        return f"Added {plural(len(ids), 'item')} to “{' '.join(section.split())}”."

    return _arrange(edition_id, "#sections", work)


@blueprint.post("/editions/<int:edition_id>/items/<int:item_id>/remove")
@login_required
def edition_remove_item(edition_id: int, item_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        found = remove_items(session, edition_id, [item_id])
        _changed(session, found, "edition.item_removed", item=item_id)
        return f"Removed item {item_id} (it stays approved, for another edition)."

    return _arrange(edition_id, "#sections", work)


@blueprint.post("/editions/<int:edition_id>/move")
@login_required
def edition_move_item(edition_id: int) -> ResponseReturnValue:
    """Move an item up or down its section, or to a place in any section (drag and drop)."""

    def work(session: Session) -> str | None:
        item_id = form_int("item_id")
        current = get_edition(session, edition_id)
        section, position = _target(current, item_id)
        found = move_item(session, edition_id, item_id, position, section)
        _changed(session, found, "edition.item_moved", item=item_id, section=section, position=position)
        return None

    return _arrange(edition_id, f"#entry-{request.form.get('item_id', '')}", work)


def _target(edition: Edition, item_id: int) -> tuple[str, int]:
    """(section, position) the form asks for: a direction, or an explicit place."""
    for title, entries in layout(edition):
        ids = [entry.item_id for entry in entries]
        if item_id in ids:
            direction = request.form.get("direction")
            if direction in ("up", "down"):
                index = ids.index(item_id)
                return title, max(0, index - 1) if direction == "up" else index + 1
            return request.form.get("section") or title, form_int("position")
    raise EditionError(f"edition {edition.id} does not carry item {item_id}")


@blueprint.post("/editions/<int:edition_id>/sections/move")
@login_required
def edition_move_section(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str | None:
        title, direction = request.form.get("title", ""), request.form.get("direction")
        titles = [name for name, _ in layout(get_edition(session, edition_id))]
        if title not in titles:
            raise EditionError(f"edition {edition_id} has no section {title!r}")
        index = titles.index(title)
        target = index - 1 if direction == "up" else index + 1
        if 0 <= target < len(titles):
            titles[index], titles[target] = titles[target], titles[index]
        found = order_sections(session, edition_id, titles)
        _changed(session, found, "edition.sections_ordered", order=titles)
        return None

    return _arrange(edition_id, "#sections", work)


@blueprint.post("/editions/<int:edition_id>/sections/rename")
@login_required
def edition_rename_section(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        title, new_title = request.form.get("title", ""), request.form.get("new_title", "")
        found = rename_section(session, edition_id, title, new_title)
        _changed(session, found, "edition.section_renamed", title=title, new_title=new_title)
        return f"Renamed “{title}”."

    return _arrange(edition_id, "#sections", work)
