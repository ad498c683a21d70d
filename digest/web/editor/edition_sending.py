"""An edition on its way out: a test send, scheduling, sending now (after a confirmation), cancelling,
holding it back from automatic sending, resuming after a pause, and the live progress of delivery.

Editors send tests, discard drafts, restore cancelled editions and hold editions back; sending to everyone
(now or at a scheduled time), unscheduling or cancelling a scheduled edition, letting a held one go and
resuming a paused one are for admins.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest.delivery.ledger import resume_edition
from digest.delivery.recipients import recipient_count
from digest.delivery.sending import TestNotSent, send_now, send_test
from digest.editions import lifecycle
from digest.editions.core import EditionError, get_edition, left_out_at_send
from digest.errors import DigestError
from digest.models import Edition, utcnow
from digest.web.context import runtime
from digest.web.editor.actions import found_or_404, perform, plural
from digest.web.editor.auth import admin_required, current_actor, current_editor, is_admin, login_required
from digest.web.editor.blueprint import blueprint
from digest.web.editor.local_time import parse_local
from digest.web.editor.progress import progress


def _edition_page(edition_id: int, anchor: str = "") -> str:
    return url_for("editor.edition", edition_id=edition_id) + anchor


@blueprint.post("/editions/<int:edition_id>/test")
@login_required
def edition_test(edition_id: int) -> ResponseReturnValue:
    back = _edition_page(edition_id, "#send")
    try:
        address = send_test(
            runtime(), current_actor(), edition_id, request.form.get("address") or current_editor().email
        )
    except TestNotSent as error:
        flash(f"The mail server did not take the test: {error.reason}", "error")
        return redirect(back, 303)
    except DigestError as error:
        flash(str(error), "error")
        return redirect(back, 303)
    flash(f"Sent a test to {address}.", "ok")
    return redirect(back, 303)


@blueprint.post("/editions/<int:edition_id>/schedule")
@admin_required
def edition_schedule(edition_id: int) -> ResponseReturnValue:
    timezone = runtime().config.site.timezone

    def work(session: Session) -> str:
        at = parse_local(request.form.get("at", ""), timezone, "sending time")
        lifecycle.schedule(session, current_actor(), edition_id, at, timezone=timezone)
        local = at.astimezone(ZoneInfo(timezone))
        return f"Scheduled for {local:%a %d %b %Y, %H:%M} ({timezone})."

    return perform(work, _edition_page(edition_id, "#send"))


@blueprint.get("/editions/<int:edition_id>/send")
@admin_required
def edition_send_confirm(edition_id: int) -> ResponseReturnValue:
    with runtime().sessions() as session:
        try:
            found = get_edition(session, edition_id)
        except EditionError:
            abort(404)
        if found.status not in ("draft", "scheduled"):
            flash(f"This edition is {found.status}; it cannot be sent again.", "error")
            return redirect(_edition_page(edition_id), 303)
        left_out = left_out_at_send(session, found, utcnow())
        return render_template(
            "editor_send_confirm.html",
            edition=found,
            recipients=recipient_count(session, found),
            going=[entry for entry in found.entries if entry.item_id not in left_out],
            left_out=list(left_out.values()),
        )


@blueprint.post("/editions/<int:edition_id>/send")
@admin_required
def edition_send(edition_id: int) -> ResponseReturnValue:
    if request.form.get("confirm") != "yes":
        flash("Confirm the send on this page first.", "error")
        return redirect(url_for("editor.edition_send_confirm", edition_id=edition_id), 303)
    try:
        started = send_now(runtime(), current_actor(), edition_id)
    except DigestError as error:
        flash(str(error), "error")
        return redirect(_edition_page(edition_id), 303)
    flash(f"Sending to {plural(started.queued, 'subscriber')}: the delivery worker takes it from here.", "ok")
    return redirect(_edition_page(edition_id, "#progress"), 303)


@blueprint.post("/editions/<int:edition_id>/cancel")
@login_required
def edition_cancel(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        was = get_edition(session, edition_id).status
        if was == "scheduled" and not is_admin():
            raise EditionError("only an admin can cancel a scheduled edition")
        lifecycle.cancel(session, current_actor(), edition_id)
        return "Scheduled sending cancelled." if was == "scheduled" else "Draft discarded."

    return perform(work, _edition_page(edition_id))


@blueprint.post("/editions/<int:edition_id>/unschedule")
@admin_required
def edition_unschedule(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        lifecycle.unschedule(session, current_actor(), edition_id)
        return "No longer scheduled: it is a draft again."

    return perform(work, _edition_page(edition_id))


@blueprint.post("/editions/<int:edition_id>/restore")
@login_required
def edition_restore(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        lifecycle.restore(session, current_actor(), edition_id)
        return "Back to a draft: edit it, schedule it or send it as before."

    return perform(work, _edition_page(edition_id))


@blueprint.post("/editions/<int:edition_id>/hold")
@login_required
def edition_hold(edition_id: int) -> ResponseReturnValue:
    """Hold an edition back from automatic sending (anyone may stop a send), or let it go again (admins)."""
    held = request.form.get("held", "1") == "1"

    def work(session: Session) -> str:
        if held:
            lifecycle.hold(session, current_actor(), edition_id)
            return "Held: it will not go out by itself; at its time it comes back to you as a draft."
        if not is_admin():
            raise EditionError("only an admin can let a held edition go out by itself again")
        lifecycle.release(session, current_actor(), edition_id)
        return "No longer held: it goes out at its scheduled time."

    return perform(work, _edition_page(edition_id, "#send"))


@blueprint.post("/editions/<int:edition_id>/resume")
@admin_required
def edition_resume(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        resume_edition(session, current_actor(), edition_id)
        return "Sending resumed: the worker picks the queued deliveries up again."

    return perform(work, _edition_page(edition_id, "#progress"))


@blueprint.get("/editions/<int:edition_id>/progress.json")
@login_required
def edition_progress(edition_id: int) -> ResponseReturnValue:
    with runtime().sessions() as session:
        found = found_or_404(session, Edition, edition_id)
        left_out = left_out_at_send(session, found, utcnow())
        response = jsonify(progress(session, found).as_json() | {"left_out": len(left_out)})
    response.headers["Cache-Control"] = "no-store"
    return response
