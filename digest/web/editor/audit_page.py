"""The whole audit trail (/editor/audit, admins): who did what, when, newest first."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from digest import audit
from digest.web.context import runtime
from digest.web.editor.auth import admin_required
from digest.web.editor.blueprint import blueprint

PER_PAGE = 100


@blueprint.get("/audit")
@admin_required
def audit_trail() -> ResponseReturnValue:
    page = request.args.get("page", "1")
    number = max(1, int(page)) if page.isdigit() else 1
    actor = (request.args.get("actor") or "").strip() or None
    with runtime().sessions() as session:
        entries = audit.recent(session, PER_PAGE, (number - 1) * PER_PAGE, actor)
        total = audit.count(session, actor)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("editor_audit.html", entries=entries, page=number, pages=pages, actor=actor, total=total)
