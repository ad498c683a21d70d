"""The editions (/editor/editions): every edition with its progress, and making a new one: this week's
digest (assembled by its rules) or a newsletter of hand-picked items."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest import audit
from digest.editions.assembly import assemble_digest
from digest.editions.compose import check_rendering
from digest.editions.core import default_sections, delivery_counts, list_editions, unsent_approved_items
from digest.editions.newsletter import create_newsletter
from digest.errors import DigestError
from digest.items.queue import get_items
from digest.models import Edition, utcnow
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
            if edition_type == "digest":
                edition, message = _assemble(session)
            elif edition_type == "newsletter":
                edition, message = _newsletter(session)
            else:
                raise FormError("choose a digest or a newsletter")
            edition_id = edition.id if edition is not None else None
            if edition is not None:
                check_rendering(runtime().config, edition)
                detail = {"type": edition.type, "items": len(edition.entries), "message": message}
                audit.record(session, current_actor(), "edition.created", "edition", edition.id, detail)
    except DigestError as error:
        flash(str(error), "error")
        return redirect(url_for("editor.editions"), 303)
    if edition_id is None:  # an empty window makes nothing (what lapsed meanwhile stays expired)
        flash(message, "error")
        return redirect(url_for("editor.editions"), 303)
    flash(message, "ok")
    return redirect(url_for("editor.edition", edition_id=edition_id), 303)


def _assemble(session: Session) -> tuple[Edition | None, str]:
    assembly = assemble_digest(session, runtime().config.site.timezone)
    edition = assembly.edition
    if edition is None:
        return None, assembly.message
    if assembly.created:
        return edition, f"Assembled this week's digest: {plural(len(edition.entries), 'item')}."
    return edition, f"This window's digest already exists: {plural(len(assembly.added), 'new item')} added to it."


def _newsletter(session: Session) -> tuple[Edition, str]:
    ids = form_ids()
    items = get_items(session, ids)
    sections = [(title, [item.id for item in members]) for title, members in default_sections(items, utcnow(), False)]
    edition = create_newsletter(
        session, runtime().config.site.timezone, title=request.form.get("title") or None, sections=sections
    )
    return edition, f"Made a newsletter with {plural(len(ids), 'item')}."
