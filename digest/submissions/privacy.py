"""What becomes of a person's submissions when they ask to be forgotten."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.models import Submission


def anonymise_submissions(session: Session, address: str, placeholder_email: str, placeholder_name: str) -> int:
    """A forgotten person's submissions keep their item and organisation, lose who sent them and from where."""
    query = select(Submission).where(func.lower(Submission.contact_email) == address.strip().lower())
    found = list(session.scalars(query))
    for submission in found:
        submission.contact_email, submission.contact_name = placeholder_email, placeholder_name
        submission.client_address = None
        if submission.notified_status is None:  # a confirmation still due goes to nobody now
            submission.notified_status = "pending"
    return len(found)
