"""Where a submission stands, in the submitter's words: the status page and the status emails share it.

A submission's status is its item's (pending, approved, rejected, published, expired): a duplicate
follows the item it was linked to. The status link carries the submission's id, signed with the
secret key for the "submission" purpose: it cannot be guessed or turned into another link.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Edition, EditionItem, Submission
from digest.subscribers.tokens import make_token, read_token

KIND_LABELS = {"news": "News", "event": "Event", "call": "Open call", "achievement": "Achievement"}
PUBLISHED_EDITION_STATUSES = ("sending", "sent")


@dataclass(frozen=True)
class Standing:
    status: str  # the item's status, or "removed"
    headline: str
    explanation: str
    note: str | None = None  # the editors' note, when they rejected it
    edition_title: str | None = None
    edition_path: str | None = None  # /archive/<slug> of the edition that carried it


def status_path(secret_key: str, submission_id: int) -> str:
    return f"/submit/status/{make_token(secret_key, 'submission', str(submission_id))}"


def submission_id_from(secret_key: str, token: str) -> int:
    """The submission a status link names; TokenError when the link is forged or mangled."""
    return int(read_token(secret_key, "submission", token))


def submitted_title(submission: Submission) -> str:
    """The title as the submitter sent it (a duplicate's item may carry another)."""
    title = (submission.payload or {}).get("title")
    return title if isinstance(title, str) and title else (submission.item.title if submission.item else "")


def standing(session: Session, submission: Submission) -> Standing:
    item = submission.item
    if item is None:
        return Standing("removed", "Removed", "The editors removed this submission from their queue.")
    duplicate = submission.status == "duplicate"
    if item.status == "pending":
        explanation = "The editors read every submission before it goes into the weekly digest or a newsletter."
        if duplicate:
            explanation += " It matches an item they already have, so it joined that one rather than being added twice."
        return Standing("pending", "Waiting for an editor", explanation)
    if item.status == "approved":
        return Standing("approved", "Approved", "It will appear in an upcoming edition.")
    if item.status == "rejected":
        note = (item.editor_note or "").strip() or None
        return Standing("rejected", "Not accepted", "The editors decided not to include it.", note=note)
    if item.status == "published":
        edition = published_edition(session, item.id)
        if edition is None:
            return Standing("published", "Published", "It went out in an edition.")
        return Standing(
            "published", "Published", f"It went out in “{edition.title}”.",
            edition_title=edition.title, edition_path=f"/archive/{edition.slug}",
        )  # fmt: skip
    return Standing(
        item.status, "Expired", "Its deadline passed, or the event ended, before an edition could carry it."
    )


def published_edition(session: Session, item_id: int) -> Edition | None:
    query = (
        select(Edition)
        .join(EditionItem, EditionItem.edition_id == Edition.id)
        .where(EditionItem.item_id == item_id, Edition.status.in_(PUBLISHED_EDITION_STATUSES))
        .order_by(Edition.id.desc())
        .limit(1)
    )
    return session.scalar(query)
