"""The emails a submitter gets: a confirmation with the status link, then one when the outcome is known:
an edition carried the item (published), or the editors did not accept it (with their note). An
approval is no outcome yet (the status page shows it): two emails a submission, not three.

The emails follow the database, not the call that changed it: `Submission.notified_status` holds the
item's status the submitter was last told (None: nothing yet, the confirmation is due), and
`tell_submitters` sends whatever is behind. A submission only stores its row: the worker
(`keep_telling_submitters`, in `digest worker` and `digest run`) sends its confirmation after the
commit, so a web request never composes or sends mail, and a confirmation survives a restart.
So it is idempotent, a status an email could not carry is sent at the next pass, and two processes
passing at once do not both send (the rows are claimed: SKIP LOCKED on PostgreSQL, and an update that
must find the row as it was read). Editorial code
calls `tell_submitters_after_commit(session, config)` inside its transaction (the queue's `decide` does,
whichever interface calls it): the pass runs once the decision is committed, and never when it is
rolled back.
"""

from __future__ import annotations

import logging
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, event, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from digest.config import Config
from digest.db import transaction
from digest.delivery.dkim import make_signer
from digest.delivery.errors import PermanentError
from digest.delivery.notices import Notice, send_notice
from digest.delivery.transport import Transport, make_transport
from digest.models import Item, Submission
from digest.runtime import Runtime
from digest.submissions.status import KIND_LABELS, Standing, standing, status_path, submitted_title

log = logging.getLogger(__name__)
TOLD = ("rejected", "published")  # the outcomes a submitter hears about
SUBJECTS = {"rejected": "Not accepted", "published": "Published"}
BATCH = 100
POLL_SECONDS = 2.0  # how soon the worker sends a new submission's confirmation
FULL_PASS_SECONDS = 60.0  # and looks for outcomes a failed pass left behind
WIDTH = 72  # columns of the plain-text emails
_PENDING_KEY = "digest.tell_submitters"


@dataclass(frozen=True)
class Claim:
    submission_id: int
    told_before: str | None
    told_now: str
    notice: Notice


def confirmation_notice(site_name: str, base_url: str, secret_key: str, submission: Submission) -> Notice:
    title = submitted_title(submission)
    kind = KIND_LABELS.get(submission.kind, submission.kind).lower()
    paragraphs = [
        f"Dear {submission.contact_name},",
        f"Thank you: your {kind} “{title}” from {submission.organisation} has reached the editors of {site_name}.",
    ]
    if submission.status == "duplicate" and submission.item is not None:
        paragraphs.append(
            f"It matches an item they already have (“{submission.item.title}”), so it joined that one rather "
            "than being added twice. We will tell you what becomes of it."
        )
    else:
        paragraphs.append("They read every submission before it goes into an edition; we will write when they decide.")
    return _notice(submission, "We received your submission", paragraphs, base_url, secret_key, site_name)


def status_notice(site_name: str, base_url: str, secret_key: str, submission: Submission, now: Standing) -> Notice:
    title = submitted_title(submission)
    paragraphs = [f"Dear {submission.contact_name},"]
    if now.status == "rejected":
        paragraphs.append(f"The editors decided not to include “{title}” in {site_name}.")
        if now.note:
            paragraphs += ["Their note:", _quoted(now.note)]
    else:
        where = f"“{now.edition_title}”" if now.edition_title else "an edition"
        paragraphs.append(f"“{title}” went out today in {where} of {site_name}.")
        if now.edition_path:
            paragraphs += ["Read it online:", f"  {base_url}{now.edition_path}"]
    return _notice(submission, SUBJECTS[now.status], paragraphs, base_url, secret_key, site_name)


def _notice(
    submission: Submission, lead: str, paragraphs: list[str], base_url: str, secret_key: str, site_name: str
) -> Notice:
    title = submitted_title(submission)
    short = title if len(title) <= 90 else title[:89].rstrip() + "…"
    status_url = base_url + status_path(secret_key, submission.id)
    paragraphs = [*paragraphs, "Its status, at any time:", f"  {status_url}", f"The editors of {site_name}"]
    return Notice(to=submission.contact_email, subject=f"{lead}: {short}", text=_text(paragraphs))


def _text(paragraphs: list[str]) -> str:
    """Paragraphs wrapped at 72 columns; indented ones (links, quotes) stay as they are."""
    blocks = [block if block.startswith(" ") else textwrap.fill(block, WIDTH) for block in paragraphs]
    return "\n\n".join(blocks) + "\n"


def _quoted(note: str) -> str:
    lines = [line for part in note.strip().splitlines() for line in textwrap.wrap(part, WIDTH - 2) or [""]]
    return "\n".join(f"  {line}" for line in lines)


# --------------------------------------------------------------------------- the status pass


def tell_submitters(
    config: Config,
    sessions: sessionmaker[Session],
    secret_key: str,
    send: Callable[[Notice], None] | None = None,
    *,
    outcomes: bool = True,
) -> int:
    """Send every confirmation that is due, and (with `outcomes`) email every submitter whose item was
    rejected or published since they were last told; return how many were sent. When the mail server is
    away, what is left waits for the next pass."""
    sender = _Sender(config, send)
    sent = 0
    try:
        while True:
            with transaction(sessions) as session:
                claims = claim_notices(session, config, secret_key, outcomes=outcomes)
            for position, claim in enumerate(claims):
                try:
                    sender(claim.notice)
                except PermanentError as error:  # this address refuses mail: telling it again would not help
                    log.error("status email to %s refused: %s", claim.notice.to, error)
                    continue
                except Exception as error:
                    log.error("status emails to submitters wait for the next pass: %s", error)
                    _release(sessions, claims[position:])
                    return sent
                sent += 1
            if not claims:  # a confirmation and an outcome of one submission take two claims
                return sent
    finally:
        sender.close()


class _Sender:
    """The configured transport (and DKIM signer), opened on the first email only."""

    def __init__(self, config: Config, send: Callable[[Notice], None] | None) -> None:
        self.config = config
        self.send = send
        self.transport: Transport | None = None

    def __call__(self, notice: Notice) -> None:
        if self.send is None:
            self.transport = make_transport(self.config)
            transport, sign = self.transport, make_signer(self.config)
            self.send = lambda message: send_notice(transport, self.config, message, sign)
        self.send(notice)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def claim_notices(session: Session, config: Config, secret_key: str, *, outcomes: bool = True) -> list[Claim]:
    """Mark up to BATCH submissions as told and return the emails that tell them: first the confirmations
    that are due, then (with `outcomes`) the outcomes."""
    unconfirmed = Submission.notified_status.is_(None)
    behind = and_(Item.status.in_(TOLD), Submission.notified_status.is_distinct_from(Item.status))
    query = (
        select(Submission)
        .join(Item, Submission.item_id == Item.id)
        .where(or_(unconfirmed, behind) if outcomes else unconfirmed)
        .order_by(Submission.id)
        .limit(BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Submission, skip_locked=True)
    site, base_url = config.site.name, config.site.base_url
    claims = []
    for submission in session.scalars(query).all():
        if submission.notified_status is None:
            # The confirmation tells "received" (a duplicate's sender: where the known item stands); an
            # outcome reached meanwhile goes with the next claim.
            told = submission.item.status if submission.status == "duplicate" and submission.item else "pending"
            notice = confirmation_notice(site, base_url, secret_key, submission)
        else:
            now = standing(session, submission)
            told, notice = now.status, status_notice(site, base_url, secret_key, submission, now)
        if _mark_told(session, submission.id, submission.notified_status, told):
            claims.append(Claim(submission.id, submission.notified_status, told, notice))
    return claims


def _mark_told(session: Session, submission_id: int, before: str | None, told: str) -> bool:
    """Record what the submitter is told, unless another pass recorded something since this one read the
    row (then that pass sends it). SQLite reads outside the write transaction, so two passes at once (the
    worker's and an editor's) could both read the row; only the one whose update finds it unchanged sends."""
    unchanged = Submission.notified_status.is_(None) if before is None else Submission.notified_status == before
    marked = session.execute(
        update(Submission).where(Submission.id == submission_id, unchanged).values(notified_status=told),
        execution_options={"synchronize_session": False},
    )
    return marked.rowcount == 1


def _release(sessions: sessionmaker[Session], claims: list[Claim]) -> None:
    try:
        with transaction(sessions) as session:
            for claim in claims:
                session.execute(
                    update(Submission)
                    .where(Submission.id == claim.submission_id, Submission.notified_status == claim.told_now)
                    .values(notified_status=claim.told_before)
                )
    except Exception:
        log.exception("could not hand %d status emails back to the next pass", len(claims))


def tell_submitters_after_commit(session: Session, config: Config, secret_key: str | None = None) -> None:
    """Run the status pass once this session's transaction commits (never on a rollback).

    Called by editorial actions that change items' statuses (approve, reject, send an edition) inside
    their transaction; several calls in one transaction make one pass. Nothing here can fail the action.
    """
    if session.info.get(_PENDING_KEY):
        return
    session.info[_PENDING_KEY] = True
    bind = session.get_bind()

    def after_commit(_session: Session) -> None:
        session.info.pop(_PENDING_KEY, None)
        try:
            key = secret_key or Runtime(config).secret_key  # the runtime knows where the secret lives
            tell_submitters(config, sessionmaker(bind, expire_on_commit=False), key)
        except Exception:
            log.exception("status emails to submitters failed; they wait for the next pass")

    event.listen(session, "after_commit", after_commit, once=True)


def keep_telling_submitters(
    config: Config, sessions: sessionmaker[Session], secret_key: str, stop: threading.Event
) -> None:
    """The worker's loop until `stop`: due confirmations every POLL_SECONDS (an indexed look), a full pass
    (outcomes too) every FULL_PASS_SECONDS. Nothing here can stop the worker."""
    last_full = float("-inf")
    while not stop.is_set():
        full = time.monotonic() - last_full >= FULL_PASS_SECONDS
        try:
            tell_submitters(config, sessions, secret_key, outcomes=full)
            last_full = time.monotonic() if full else last_full
        except Exception:
            log.exception("emails to submitters failed; they wait for the next pass")
        stop.wait(POLL_SECONDS)
