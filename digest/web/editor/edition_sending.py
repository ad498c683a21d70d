"""An edition on its way out: a test send, scheduling, sending now (after a confirmation), cancelling,
holding it back from automatic sending, resuming after a pause, and the live progress of delivery.

Editors send tests, discard drafts and hold editions back; sending to everyone (now or at a scheduled
time), cancelling a scheduled edition, letting a held one go and resuming a paused one are for admins.
"""

from __future__ import annotations

import smtplib
from zoneinfo import ZoneInfo

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest import audit
from digest.delivery.errors import PermanentError, TransientError
from digest.delivery.worker import resume_edition, send_test, start_sending
from digest.editions.compose import EditionRenderError, record_failure
from digest.editions.core import EditionError, get_edition
from digest.editions.lifecycle import cancel, schedule
from digest.errors import DigestError
from digest.models import Edition
from digest.subscribers.roster import normalise_email
from digest.web.context import runtime
from digest.web.editor.actions import perform, plural
from digest.web.editor.auth import admin_required, current_actor, current_editor, is_admin, login_required
from digest.web.editor.blueprint import blueprint
from digest.web.editor.local_time import parse_local
from digest.web.editor.progress import progress, recipient_count


def _edition_page(edition_id: int, anchor: str = "") -> str:
    return url_for("editor.edition", edition_id=edition_id) + anchor


@blueprint.post("/editions/<int:edition_id>/test")
@login_required
def edition_test(edition_id: int) -> ResponseReturnValue:
    back = _edition_page(edition_id, "#send")
    try:
        address = normalise_email(request.form.get("address") or current_editor().email)
        send_test(runtime(), edition_id, address)
    except DigestError as error:
        flash(str(error), "error")
        return redirect(back, 303)
    except (TransientError, PermanentError, smtplib.SMTPException, OSError) as error:
        flash(f"The mail server did not take the test: {error}", "error")
        return redirect(back, 303)
    with runtime().sessions() as session, session.begin():
        audit.record(session, current_actor(), "edition.test_sent", "edition", edition_id, {"to": address})
    flash(f"Sent a test to {address}.", "ok")
    return redirect(back, 303)


@blueprint.post("/editions/<int:edition_id>/schedule")
@admin_required
def edition_schedule(edition_id: int) -> ResponseReturnValue:
    timezone = runtime().config.site.timezone

    def work(session: Session) -> str:
        at = parse_local(request.form.get("at", ""), timezone, "sending time")
        found = schedule(session, edition_id, at)
        local = at.astimezone(ZoneInfo(timezone))
        audit.record(
            session,
            current_actor(),
            "edition.scheduled",
            "edition",
            found.id,
            {"at": at.isoformat(), "timezone": timezone},
        )
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
        return render_template("editor_send_confirm.html", edition=found, recipients=recipient_count(session, found))


@blueprint.post("/editions/<int:edition_id>/send")
@admin_required
def edition_send(edition_id: int) -> ResponseReturnValue:
    if request.form.get("confirm") != "yes":
        flash("Confirm the send on this page first.", "error")
        return redirect(url_for("editor.edition_send_confirm", edition_id=edition_id), 303)
    try:
        with runtime().sessions() as session, session.begin():
            queued = start_sending(session, runtime().config, edition_id)
            audit.record(
                session, current_actor(), "edition.send_started", "edition", edition_id, {"recipients": queued}
            )
    except EditionRenderError as error:
        with runtime().sessions() as session, session.begin():  # the failed transaction was rolled back
            record_failure(session, edition_id, str(error))
        flash(str(error), "error")
        return redirect(_edition_page(edition_id), 303)
    except DigestError as error:
        flash(str(error), "error")
        return redirect(_edition_page(edition_id), 303)
    flash(f"Sending to {plural(queued, 'subscriber')}: the delivery worker takes it from here.", "ok")
    return redirect(_edition_page(edition_id, "#progress"), 303)


@blueprint.post("/editions/<int:edition_id>/cancel")
@login_required
def edition_cancel(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        found = get_edition(session, edition_id)
        was = found.status
        if was == "scheduled" and not is_admin():
            raise EditionError("only an admin can cancel a scheduled edition")
        cancel(session, edition_id)
        audit.record(session, current_actor(), "edition.cancelled", "edition", edition_id, {"was": was})
        return "Scheduled sending cancelled." if was == "scheduled" else "Draft discarded."

    return perform(work, _edition_page(edition_id))


@blueprint.post("/editions/<int:edition_id>/hold")
@login_required
def edition_hold(edition_id: int) -> ResponseReturnValue:
    """Hold an edition back from automatic sending (anyone may stop a send), or let it go again (admins)."""
    held = request.form.get("held", "1") == "1"

    def work(session: Session) -> str:
        found = get_edition(session, edition_id)
        if found.status not in ("draft", "scheduled"):
            raise EditionError(f"edition {edition_id} is {found.status}; only a draft or scheduled edition can be held")
        if not held and not is_admin():
            raise EditionError("only an admin can let a held edition go out by itself again")
        found.held = held
        audit.record(session, current_actor(), "edition.held" if held else "edition.unheld", "edition", edition_id)
        if held:
            return "Held: it will not go out by itself; at its time it comes back to you as a draft."
        return "No longer held: it goes out at its scheduled time."

    return perform(work, _edition_page(edition_id, "#send"))


@blueprint.post("/editions/<int:edition_id>/resume")
@admin_required
def edition_resume(edition_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        resume_edition(session, edition_id, actor=current_editor().email)  # writes its own audit line
        return "Sending resumed: the worker picks the queued deliveries up again."

    return perform(work, _edition_page(edition_id, "#progress"))


@blueprint.get("/editions/<int:edition_id>/progress.json")
@login_required
def edition_progress(edition_id: int) -> ResponseReturnValue:
    with runtime().sessions() as session:
        found = session.get(Edition, edition_id)
        if found is None:
            abort(404)
        response = jsonify(progress(session, found).as_json())
    response.headers["Cache-Control"] = "no-store"
    return response
