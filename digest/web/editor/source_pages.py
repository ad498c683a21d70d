"""Sources (/editor/sources, admins): add, edit, switch off and on, their health, collect one now."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest import audit
from digest.config import SOURCE_KINDS
from digest.errors import DigestError
from digest.items.sources import add_source, edit_source, get_source, list_sources, record_collected, set_enabled
from digest.models import Item, Source, utcnow
from digest.web.context import runtime
from digest.web.editor.actions import found_or_404, perform, plural
from digest.web.editor.auth import admin_required, current_actor
from digest.web.editor.blueprint import blueprint
from sources.collector import collect


@blueprint.get("/sources")
@admin_required
def sources() -> ResponseReturnValue:
    with runtime().sessions() as session:
        found = list_sources(session)
        counts = dict(session.execute(select(Item.source_id, func.count()).group_by(Item.source_id)).all())
    return render_template(
        "editor_sources.html",
        sources=found,
        item_counts=counts,
        kinds=SOURCE_KINDS,
        declared={entry.name for entry in runtime().config.sources},
        now=utcnow(),
    )


@blueprint.post("/sources")
@admin_required
def add_source_page() -> ResponseReturnValue:
    form = request.form

    def work(session: Session) -> str:
        source = add_source(session, current_actor(), form.get("name", ""), form.get("url", ""), form.get("kind", ""))
        return f"Added the source “{source.name}”: collect it now, or let the scheduler do it."

    return perform(work, url_for("editor.sources"))


@blueprint.get("/sources/<int:source_id>")
@admin_required
def source(source_id: int) -> ResponseReturnValue:
    with runtime().sessions() as session:
        found = found_or_404(session, Source, source_id)
        return render_template(
            "editor_source.html",
            source=found,
            kinds=SOURCE_KINDS,
            declared=found.name in {entry.name for entry in runtime().config.sources},
            items=session.scalar(select(func.count(Item.id)).where(Item.source_id == source_id)) or 0,
            trail=audit.entries_for(session, "source", source_id),
            now=utcnow(),
        )


@blueprint.post("/sources/<int:source_id>")
@admin_required
def save_source(source_id: int) -> ResponseReturnValue:
    form = request.form

    def work(session: Session) -> str:
        found, changed = edit_source(
            session, current_actor(), source_id, form.get("name", ""), form.get("url", ""), form.get("kind", "")
        )
        if not changed:
            return "Nothing changed."
        return f"Saved the {', '.join(changed)} of “{found.name}”."

    return perform(work, url_for("editor.source", source_id=source_id))


@blueprint.post("/sources/<int:source_id>/enabled")
@admin_required
def source_enabled(source_id: int) -> ResponseReturnValue:
    enabled = request.form.get("enabled") == "1"

    def work(session: Session) -> str:
        found = get_source(session, source_id)
        set_enabled(session, current_actor(), found, enabled)
        if enabled:
            return f"“{found.name}” is collected again."
        return f"“{found.name}” is switched off: it is no longer collected (its items stay)."

    return perform(work, _back(source_id))


@blueprint.post("/sources/<int:source_id>/collect")
@admin_required
def source_collect(source_id: int) -> ResponseReturnValue:
    """Fetch one source now, in this request, so the next page shows the result."""
    try:
        with runtime().sessions() as session:
            name = get_source(session, source_id).name
    except DigestError as error:
        flash(str(error), "error")
        return redirect(url_for("editor.sources"), 303)
    [result] = collect(runtime(), name)
    with runtime().sessions() as session, session.begin():
        record_collected(session, current_actor(), source_id, result.as_json())
    if result.status == "error":
        flash(f"Collecting “{name}” failed: {result.error}", "error")
    else:
        flash(
            f"Collected “{name}”: {plural(result.fetched, 'entry', 'entries')}, {result.new} new, "
            f"{result.duplicates} duplicates, {result.updated} updated.",
            "ok",
        )
    return redirect(_back(source_id), 303)


def _back(source_id: int) -> str:
    """The source's own page when the form was there, else the list."""
    if request.form.get("back") == "source":
        return url_for("editor.source", source_id=source_id)
    return url_for("editor.sources")
