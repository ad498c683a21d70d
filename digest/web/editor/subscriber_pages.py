"""Subscribers (/editor/subscribers, admins): search, status and history, add, unsubscribe, import a CSV
(with a report of the rows it rejected), export one, forget one."""

from __future__ import annotations

import io

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from digest import audit
from digest.errors import DigestError
from digest.models import Subscriber, utcnow
from digest.subscribers import roster
from digest.subscribers.preferences import editions_of, topics_of
from digest.web.context import runtime
from digest.web.editor.actions import found_or_404, perform
from digest.web.editor.auth import admin_required, current_actor
from digest.web.editor.blueprint import blueprint
from digest.web.editor.subscriber_search import SubscriberFilters, deliveries_of, subscriber_page


@blueprint.get("/subscribers")
@admin_required
def subscribers() -> ResponseReturnValue:
    filters = SubscriberFilters.from_args(request.args)
    with runtime().sessions() as session:
        page = subscriber_page(session, filters)
    return render_template("editor_subscribers.html", page=page, filters=filters)


@blueprint.post("/subscribers")
@admin_required
def add_subscriber_page() -> ResponseReturnValue:
    form = request.form

    def work(session: Session) -> str:
        confirmed = form.get("confirmed") == "1"
        subscriber = roster.add_subscriber(session, current_actor(), form.get("email", ""), form.get("name"), confirmed)
        return f"Added {subscriber.email} ({subscriber.status})."

    return perform(work, url_for("editor.subscribers"))


@blueprint.get("/subscribers/<int:subscriber_id>")
@admin_required
def subscriber(subscriber_id: int) -> ResponseReturnValue:
    with runtime().sessions() as session:
        found = found_or_404(session, Subscriber, subscriber_id)
        return render_template(
            "editor_subscriber.html",
            subscriber=found,
            editions=editions_of(found.preferences),
            topics=topics_of(found.preferences),
            deliveries=deliveries_of(session, found.id),
            trail=audit.entries_for(session, "subscriber", found.id),
            forgotten=found.email.endswith(f"@{roster.ERASED_DOMAIN}"),
        )


@blueprint.post("/subscribers/<int:subscriber_id>/unsubscribe")
@admin_required
def unsubscribe_subscriber(subscriber_id: int) -> ResponseReturnValue:
    def work(session: Session) -> str:
        found = roster.get_subscriber(session, subscriber_id)
        if not roster.unsubscribe_subscriber(session, current_actor(), found):
            return f"{found.email} is {found.status}: nothing to do."
        return f"Unsubscribed {found.email}: no edition goes to them any more."

    return perform(work, url_for("editor.subscriber", subscriber_id=subscriber_id))


@blueprint.post("/subscribers/<int:subscriber_id>/forget")
@admin_required
def forget_subscriber_page(subscriber_id: int) -> ResponseReturnValue:
    """The person asked the editors (by mail, by phone) to erase their data."""

    def work(session: Session) -> str:
        subscriber = roster.get_subscriber(session, subscriber_id)
        roster.forget_subscriber(session, current_actor(), subscriber, outbox_dir=runtime().config.outbox_dir)
        return "Forgotten: their personal data is erased and the address can never be added again."

    return perform(work, url_for("editor.subscriber", subscriber_id=subscriber_id))


@blueprint.post("/subscribers/import")
@admin_required
def import_subscribers() -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a CSV file to import.", "error")
        return redirect(url_for("editor.subscribers"), 303)
    text = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", newline="")
    try:
        report = roster.import_csv(runtime().sessions, current_actor(), text, upload.filename)
    except UnicodeDecodeError:
        flash("That file is not UTF-8 text: save it as “CSV UTF-8” and try again.", "error")
        return redirect(url_for("editor.subscribers"), 303)
    except DigestError as error:
        flash(str(error), "error")
        return redirect(url_for("editor.subscribers"), 303)
    return render_template("editor_import_report.html", report=report, filename=upload.filename)


@blueprint.get("/subscribers/export.csv")
@admin_required
def export_subscribers() -> ResponseReturnValue:
    handle = io.StringIO()
    with runtime().sessions() as session, session.begin():
        roster.export_csv(session, current_actor(), handle)
    filename = f"subscribers-{utcnow():%Y-%m-%d}.csv"
    return Response(
        handle.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@blueprint.errorhandler(413)
def _too_large(error: Exception) -> ResponseReturnValue:
    flash("That file is larger than 1 MB: split it, or import it with `digest subscribers import FILE.csv`.", "error")
    return redirect(url_for("editor.subscribers"), 303)
