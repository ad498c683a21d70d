"""The editions (/editor/editions): every edition with its progress, and making a new one: this week's
digest (assembled by its rules), a newsletter of hand-picked items, or a copy of an edition."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest.editions import lifecycle
from digest.editions.assembly import Assembly
from digest.editions.core import default_sections, delivery_counts, list_editions, unsent_approved_items
from digest.editions.newsletter import kind_sections
from digest.errors import DigestError
from digest.models import utcnow
from digest.web.context import runtime
from digest.web.editor.actions import FormError, form_ids, plural
from digest.web.editor.auth import current_actor, login_required
from digest.web.editor.blueprint import blueprint


@blueprint.get("/editions")
@login_required
def editions() -> ResponseReturnValue:
    with runtime().sessions() as session:
        found = list_editions(session)
        counts = delivery_counts(session, [edition.id for edition in found])
        candidates = unsent_approved_items(session)
    return render_template(
        "editor_editions.html", editions=found, counts=counts, candidates=default_sections(candidates, utcnow())
    )


@blueprint.post("/editions")
@login_required
def create_edition() -> ResponseReturnValue:
    edition_type = request.form.get("type")
    try:
        with runtime().sessions() as session, session.begin():
            if edition_type not in ("digest", "newsletter"):
                raise FormError("choose a digest or a newsletter")
            made = lifecycle.create_edition(
                session, runtime().config, current_actor(), edition_type, **_choices(session)
            )
            edition_id = made.edition.id if made.edition is not None else None
            said = _said(made)
    except DigestError as error:
        flash(str(error), "error")
        return redirect(url_for("editor.editions"), 303)
    if edition_id is None:  # an empty window makes nothing (what lapsed meanwhile stays expired)
        flash(said, "error")
        return redirect(url_for("editor.editions"), 303)
    flash(said, "ok")
    return redirect(url_for("editor.edition", edition_id=edition_id), 303)


def _choices(session: Session) -> dict[str, Any]:
    """A newsletter's title and items, in their kinds' sections (a digest is assembled by its rules)."""
    if request.form.get("type") != "newsletter":
        return {}
    return {"title": request.form.get("title") or None, "sections": kind_sections(session, form_ids())}


def _said(made: Assembly) -> str:
    if made.edition is None:
        return made.message
    if made.edition is not None and made.edition.type == "newsletter":
        return f"Made a newsletter with {plural(len(made.added), 'item')}."
    if made.created:
        return f"Assembled this week's digest: {plural(len(made.added), 'item')}."
    return f"This window's digest already exists: {plural(len(made.added), 'new item')} added to it."


@blueprint.post("/editions/<int:edition_id>/duplicate")
@login_required
def edition_duplicate(edition_id: int) -> ResponseReturnValue:
    try:
        with runtime().sessions() as session, session.begin():
            copy = lifecycle.duplicate(session, runtime().config, current_actor(), edition_id)
            copy_id, left_out = copy.id, list(copy.warnings)
    except DigestError as error:
        flash(str(error), "error")
        return redirect(url_for("editor.edition", edition_id=edition_id), 303)
    flash(f"Made a copy of edition {edition_id}: a new draft." + "".join(f" {note}" for note in left_out), "ok")
    return redirect(url_for("editor.edition", edition_id=copy_id), 303)
