"""One item (/editor/items/<id>): everything known about it, where it came from, its edit form and trail."""

from __future__ import annotations

from collections.abc import Mapping

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest import audit
from digest.errors import DigestError
from digest.items.edits import FROZEN_STATUSES, TEXT_FIELDS, ItemChanges, ItemError, edit_item, summary_preview
from digest.models import ITEM_KINDS, Edition, EditionItem, Item, utcnow
from digest.rendering.markdown import summary_markdown
from digest.web.context import runtime
from digest.web.editor.actions import editor_path, found_or_404
from digest.web.editor.auth import current_actor, login_required
from digest.web.editor.blueprint import blueprint
from digest.web.editor.local_time import TimeInputError, input_value, parse_optional
from digest.web.editor.queue_query import closing_soon, deadline_passed, submissions_of

TIME_FIELDS = ("published_at", "starts_at", "ends_at", "deadline")


@blueprint.get("/items/<int:item_id>")
@login_required
def item(item_id: int) -> ResponseReturnValue:
    return _show(item_id, {})


def _show(item_id: int, form: dict[str, str], status: int = 200) -> ResponseReturnValue:
    timezone = runtime().config.site.timezone
    with runtime().sessions() as session:
        found = found_or_404(session, Item, item_id)
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
    """A value that cannot be used shows the form again as typed (422); any other refusal goes back."""
    here = url_for("editor.item", item_id=item_id)
    try:
        changes = changes_from_form(request.form, runtime().config.site.timezone)
        with runtime().sessions() as session, session.begin():
            edited = edit_item(session, current_actor(), item_id, changes)
    except (TimeInputError, ItemError) as error:
        flash(str(error), "error")
        return _show(item_id, dict(request.form), 422)
    except DigestError as error:
        flash(str(error), "error")
        return redirect(here, 303)
    if edited.changed:
        flash(f"Saved: {', '.join(name.replace('_', ' ') for name in edited.changed)}.", "ok")
    else:
        flash("Nothing changed.", "ok")
    if edited.removed:
        flash("Removed from the summary: " + "; ".join(edited.removed) + ".", "warn")
    return redirect(here, 303)


@blueprint.post("/items/<int:item_id>/summary-preview")
@login_required
def preview_item_summary(item_id: int) -> ResponseReturnValue:
    """The summary as typed, as it would be stored, and what saving would remove (for the live preview)."""
    with runtime().sessions() as session:
        found = found_or_404(session, Item, item_id)
        preview = summary_preview(found, request.form.get("summary") or "", request.form.get("url"))
    return jsonify(html=preview.html, removed=preview.removed)


def changes_from_form(form: Mapping[str, str], timezone: str) -> ItemChanges:
    """The edit form's values, its times read in the site's zone (TimeInputError says which is wrong)."""
    times = {name: parse_optional(form.get(name), timezone, name.replace("_", " ")) for name in TIME_FIELDS}
    texts = {name: form.get(name) or None for name in TEXT_FIELDS}
    topics = tuple(form.get("topics", "").split(",")) if "topics" in form else None
    return ItemChanges(
        summary=form.get("summary") or "", kind=form.get("kind", ""), url=form.get("url"), topics=topics,
        **texts, **times,
    )  # type: ignore[arg-type]


def _form_values(found: Item, timezone: str) -> dict[str, str]:
    return {
        "title": found.title,
        "summary": summary_markdown(found.summary),
        "topics": ", ".join(found.topics or []),
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
