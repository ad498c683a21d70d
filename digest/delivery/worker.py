"""The delivery worker: claims batches from a Store and sends them through a Transport.

Like listmonk's campaign manager, the worker knows only two small interfaces: the ``Store`` below (the
ledger: digest.delivery.ledger.LedgerStore on the database) and the ``Transport`` that carries messages
(digest.delivery.transport: an outbox folder or pooled SMTP). A row is marked sent only after the server
accepted the message. While a batch is out, the worker records outcomes every fraction of a second (so
"in flight" is a handful of messages, not the batch) and renews the lease of what it still holds.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from digest.config import Config
from digest.delivery.dkim import make_signer
from digest.delivery.envelope import Envelope, EnvelopeSender
from digest.delivery.errors import PermanentError, TransientError
from digest.delivery.ledger import FAILED_RESULTS, Job, LedgerStore, Outcome, Recorded
from digest.delivery.message import EditionMessage, site_links
from digest.delivery.notices import edition_paused_notice, send_notice
from digest.delivery.transport import Transport, make_transport
from digest.models import Edition, utcnow
from digest.rendering.i18n import language_for
from digest.runtime import Runtime

log = logging.getLogger(__name__)
RECORD_EVERY = 100  # outcomes, or
RECORD_SECONDS = 0.25  # whichever comes first: what a crash can repeat is at most this much
# How often a draining worker looks again while what is left is claimed by other workers (due only when their
# lease runs out, should they die): it exits this soon after the last of them is sent.
DRAIN_POLL_SECONDS = 0.25
MESSAGES_KEPT = 8  # built edition messages a worker keeps beyond those of the current batch
Work = tuple[Job, "EditionMessage | None", "queue.SimpleQueue[Outcome]"]  # a job, its message, where its outcome goes
NONE_WAITING = (None, None, None)  # what a sending thread's look at the queue finds when nothing waits


class Store(Protocol):
    """What the worker needs of the ledger."""

    def claim(self, batch_size: int, now: datetime) -> list[Job]:
        """Take up to batch_size due deliveries (queued, or claimed longer ago than the lease)."""

    def frozen_editions(self, edition_ids: set[int]) -> dict[int, Edition | None]:
        """Each edition with its frozen message, or None."""

    def renderings(self, edition_id: int) -> dict[str, tuple[str, str]]:
        """The edition frozen in other languages than the site's: language -> (html, text)."""

    def record(self, outcomes: Sequence[Outcome], now: datetime) -> Recorded:
        """Mark deliveries sent, failed or to retry; pause editions that keep failing."""

    def renew(self, delivery_ids: set[int], now: datetime) -> None:
        """Extend the lease of claimed deliveries still being sent."""

    def finish_editions(self, now: datetime) -> list[int]:
        """Mark sent the editions with nothing left to do; return their ids."""

    def sending_editions(self, edition_ids: set[int]) -> set[int]:
        """Those of the editions still sending (not paused, not finished)."""

    def next_due_at(self) -> datetime | None:
        """When something may next be claimed; None when nothing waits."""

    def admins(self) -> list[str]:
        """Who to tell when an edition pauses."""

    def edition_title(self, edition_id: int) -> str: ...


@dataclass
class WorkerStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    finished_editions: list[int] = field(default_factory=list)
    paused_editions: list[int] = field(default_factory=list)


def start_warnings(config: Config) -> list[str]:
    """What a worker should say when it starts about settings that hurt delivery."""
    if config.mail.transport == "smtp" and not config.site.base_url.startswith("https://"):
        return [
            f"site.base_url is {config.site.base_url}, not https: emails carry no one-click unsubscribe "
            "(List-Unsubscribe-Post, RFC 8058), which Gmail and Yahoo require of bulk senders"
        ]
    return []


class Worker:
    """Claims batches of deliveries and sends them through one transport, `parallelism` at a time."""

    def __init__(
        self,
        runtime: Runtime,
        transport: Transport | None = None,
        clock: Callable[[], datetime] = utcnow,
        store: Store | None = None,
    ) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.transport = transport or make_transport(runtime.config)
        self.store = store or LedgerStore(runtime.sessions, runtime.config.delivery)
        self.sign = make_signer(runtime.config)
        self.envelope_sender = EnvelopeSender(runtime.config, runtime.secret_key)
        self._next: list[Job] = []  # the batch claimed while the current one is out
        self.clock = clock
        self.stats = WorkerStats()
        self.site_language = language_for(self.config.site.language)
        # Per edition, its message in each language it was rendered in (the site's at least).
        self._messages: dict[int, dict[str, EditionMessage] | None] = {}
        # Failures in a row per edition within the current batch: at the pause threshold the rest of the
        # batch goes back to the queue untried, without waiting for the ledger to say "paused".
        self._batch_streaks: dict[int, int] = {}
        self._streak_lock = threading.Lock()
        self._work: queue.SimpleQueue[Work | None] = queue.SimpleQueue()
        self._senders = [
            threading.Thread(target=self._sender, name=f"send-{n}", daemon=True)
            for n in range(max(1, self.transport.parallelism))
        ]
        for sender in self._senders:
            sender.start()

    @property
    def claim_size(self) -> int:
        """The batch size, kept small enough to send well within the lease at the rate limit."""
        settings, rate = self.config.delivery, self.config.mail.smtp.rate_per_second
        if self.config.mail.transport == "smtp" and rate > 0:
            return max(1, min(settings.batch_size, int(rate * settings.lease_seconds / 2)))
        return settings.batch_size

    def run_once(self, chain: bool = False) -> int:
        """Claim and send one batch; return how many deliveries it handled. `chain`: also send the batches
        claimed ahead, each handed to the sending threads as soon as they have taken all of the one before
        (drain and serve: the threads never wait for the ledger between batches). (Scheduled editions are
        released by the scheduler: scheduler/jobs.py's send_scheduled.)"""
        jobs = self._take_batch()
        handled = self._send_batch(jobs, chain) if jobs else 0
        self.stats.finished_editions += self.store.finish_editions(self.clock())
        return handled

    def _take_batch(self) -> list[Job]:
        """The batch claimed while the last one was out, else a new claim."""
        jobs, self._next = self._next, []
        return self._still_sending(jobs) if jobs else self.store.claim(self.claim_size, self.clock())

    def _still_sending(self, jobs: list[Job]) -> list[Job]:
        """Those of the jobs claimed ahead whose edition is still sending; the others (of an edition that
        paused meanwhile) go back to the queue untried."""
        sending = self.store.sending_editions({job.edition_id for job in jobs})
        self._record([Outcome(job, "released") for job in jobs if job.edition_id not in sending])
        return [job for job in jobs if job.edition_id in sending]

    def _prefetch(self, held: set[int]) -> None:
        """Claim the next batch while this one is being sent (the claim is the worker's slowest query). The
        claim is held under the same lease, renewed with the current batch's: a crash loses nothing, and
        nothing claimed is sent twice."""
        try:
            claimed = self.store.claim(self.claim_size, self.clock())
        except Exception:  # the current batch's outcomes must still be recorded
            log.exception("delivery worker: claiming the next batch failed; it is claimed later")
            return
        # What this worker holds unrecorded (`held`), if its lease ran out before the first renewal (a slow
        # start): it is still ours and being sent, so it must not come round again.
        self._next = [job for job in claimed if job.delivery_id not in held]

    def drain(self, stop: threading.Event | None = None) -> WorkerStats:
        """Send until nothing is queued, waiting for retries (and stale claims) that are not due yet."""
        stop = stop or threading.Event()
        while not stop.is_set():
            if self.run_once(chain=True):
                continue
            due = self.store.next_due_at()
            if due is None:
                break
            stop.wait(max(0.05, min((due - self.clock()).total_seconds(), DRAIN_POLL_SECONDS)))
        return self.stats

    def serve(self, stop: threading.Event, poll_seconds: float = 2.0) -> None:
        """Wait for work until stopped (the long-running `digest worker`)."""
        while not stop.is_set():
            try:
                handled = self.run_once(chain=True)
            except Exception:  # a database hiccup must not kill the long-running worker
                log.exception("delivery worker: batch failed; retrying shortly")
                handled = 0
            if not handled:
                stop.wait(poll_seconds)

    def close(self) -> None:
        if self._next:  # claimed ahead, never tried: back to the queue now rather than after the lease
            try:
                self._record([Outcome(job, "released") for job in self._next])
                self._next = []
            except Exception:
                log.exception("delivery worker: could not release the prefetched batch; its lease will")
        for _ in self._senders:
            self._work.put(None)
        for sender in self._senders:
            sender.join()
        self.transport.close()

    # ---- one batch

    def _send_batch(self, jobs: list[Job], chain: bool = False) -> int:
        """Send the jobs and, with `chain`, the batches claimed ahead of them; return how many were handed out.

        The next batch is claimed once half of this one has gone to the sending threads (a full batch suggests
        more is queued; a short one that it is not): late enough that a worker holds little more than it
        sends, so the workers of one edition end together, and early enough to hide the claim. With `chain`
        it goes to the threads as soon as they have taken all of this one, and the outcomes so far are recorded
        then: the threads never wait for the ledger between batches, and a crash repeats no more than before."""
        self._batch_streaks.clear()
        results: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        lease = self.config.delivery.lease_seconds
        unrecorded: set[int] = set()
        handed, full = self._hand_out(jobs, results, unrecorded), len(jobs) >= self.claim_size
        current = {job.delivery_id for job in jobs}  # the batch handed out last
        outcomes: list[Outcome] = []
        last_record = last_renewal = time.monotonic()
        while unrecorded:
            failing = _collect(results, outcomes)
            if full and not self._next and self._work.qsize() <= self.claim_size // 2:
                # Claim ahead only once the batch before this one is all recorded, so a worker never holds more
                # than two batches and a crash repeats no more than that.
                if outcomes and not unrecorded <= current:
                    self._record(outcomes)
                    unrecorded -= {outcome.job.delivery_id for outcome in outcomes}
                    outcomes, last_record = [], time.monotonic()
                if unrecorded <= current:
                    self._prefetch(unrecorded)
                    full = False  # one claim ahead per batch
            if chain and self._next and self._work.qsize() < len(self._senders):  # the threads are about to idle
                claimed, self._next = self._next, []
                still = self._still_sending(claimed)
                handed += self._hand_out(still, results, unrecorded)
                current = {job.delivery_id for job in still}
                full = len(claimed) >= self.claim_size
                self._record(outcomes)  # what the last batch left unrecorded is now only what is in flight
                unrecorded -= {outcome.job.delivery_id for outcome in outcomes}
                outcomes, last_record = [], time.monotonic()
            now = time.monotonic()  # a failure may pause its edition: written at once
            if failing or len(outcomes) >= min(RECORD_EVERY, len(unrecorded)) or now - last_record >= RECORD_SECONDS:
                self._record(outcomes)
                unrecorded -= {outcome.job.delivery_id for outcome in outcomes}
                outcomes, last_record = [], now
            if unrecorded and now - last_renewal >= lease / 3:
                self.store.renew(unrecorded | {job.delivery_id for job in self._next}, self.clock())
                last_renewal = now
        return handed

    def _hand_out(self, jobs: list[Job], results: queue.SimpleQueue[Outcome], unrecorded: set[int]) -> int:
        """Queue the jobs for the sending threads."""
        messages = self._messages_for({job.edition_id for job in jobs})
        for job in jobs:
            self._work.put((job, self._in_language(messages.get(job.edition_id), job.language), results))
        unrecorded |= {job.delivery_id for job in jobs}
        return len(jobs)

    def _sender(self) -> None:
        """A sending thread: one per connection the transport may hold. Before it sends a message it takes the
        next job if one is waiting, and names that message's envelope to the transport, which writes it with
        this message's content (SMTP with PIPELINING): a message costs one write and one read, not two of each.
        A message whose envelope went out ahead is sent next whatever happens meanwhile."""
        work = self._work.get()
        envelope, committed = self._envelope(work), False
        while work is not None:
            following = self._waiting()
            then = self._announced(following)
            job, message, results = work
            results.put(self._attempt(job, message, envelope, then, committed))
            committed = then is not None and self.transport.written_ahead() == then
            if following is NONE_WAITING:
                following = self._work.get()
                then = self._envelope(following)
            work, envelope = following, then

    def _waiting(self) -> Work | None:
        """The next job if one waits (None: the worker closes), else NONE_WAITING."""
        try:
            return self._work.get_nowait()
        except queue.Empty:
            return NONE_WAITING

    def _announced(self, following: Work | None) -> Envelope | None:
        """The envelope to write ahead for the job taken next; None if none waits or it will not be tried."""
        if following is None or following is NONE_WAITING or not self._admitted(following[0]):
            return None
        return self._envelope(following)

    def _admitted(self, job: Job) -> bool:
        """Whether the job may be tried: not when its edition reached the pause threshold in this batch."""
        with self._streak_lock:
            return self._batch_streaks.get(job.edition_id, 0) < self.config.delivery.pause_after_failures

    def _envelope(self, work: Work | None) -> Envelope | None:
        """The (sender, recipient) of the job's message, None when it will not be sent."""
        if work is None or work[1] is None or work[0].subscriber_status != "active":
            return None
        job = work[0]
        return self.envelope_sender(job), job.recipient.email

    def _attempt(
        self,
        job: Job,
        message: EditionMessage | None,
        envelope: Envelope | None,
        then: Envelope | None,
        committed: bool,
    ) -> Outcome:
        """Runs in a sending thread: build and send one message, never raise; count the edition's failures. Unless
        its envelope went out ahead (`committed`), a job of an edition at its pause threshold in this batch goes
        back to the queue untried."""
        if not committed and not self._admitted(job):
            return Outcome(job, "released")
        outcome = self._try(job, message, envelope, then)
        if outcome.result in (*FAILED_RESULTS, "sent"):
            with self._streak_lock:
                failures = self._batch_streaks.get(job.edition_id, 0) + 1 if outcome.result != "sent" else 0
                self._batch_streaks[job.edition_id] = failures
        return outcome

    def _try(
        self, job: Job, message: EditionMessage | None, envelope: Envelope | None, then: Envelope | None
    ) -> Outcome:
        if job.subscriber_status != "active":
            return Outcome(job, "skipped", f"not sent: subscriber is {job.subscriber_status}")
        if message is None or envelope is None:
            return Outcome(job, "retry", f"edition {job.edition_id} has no frozen message")
        message_id = message.new_message_id()
        try:
            pieces = message.pieces(job.recipient, message_id, job.delivery_id)
            self.transport.send(*envelope, pieces, dot_safe=True, then=then)
        except TransientError as error:
            return Outcome(job, "retry", str(error))
        except PermanentError as error:
            return Outcome(job, "bounced" if error.hard_bounce else "failed", str(error))
        except Exception as error:  # a bug must not kill the thread; it counts as a failure and may pause
            log.exception("delivery %s: unexpected error", job.delivery_id)
            return Outcome(job, "retry", f"unexpected error: {type(error).__name__}: {error}")
        return Outcome(job, "sent", message_id=message_id)

    def _record(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        recorded = self.store.record(outcomes, self.clock())
        self.stats.sent += recorded.sent
        self.stats.retried += recorded.retried
        self.stats.failed += recorded.failed
        for edition_id, reason in recorded.paused:
            self.stats.paused_editions.append(edition_id)
            self._tell_editors(edition_id, reason)

    def _tell_editors(self, edition_id: int, reason: str) -> None:
        log.error("edition %s paused: %s", edition_id, reason)
        title = self.store.edition_title(edition_id)
        for address in self.store.admins():
            notice = edition_paused_notice(self.config.site.name, address, title, edition_id, reason)
            try:
                send_notice(self.transport, self.config, notice, self.sign)
            except Exception as error:  # the alert shares the failing server; last_error still tells
                log.error("could not tell %s that edition %s paused: %s", address, edition_id, error)

    def _in_language(self, by_language: dict[str, EditionMessage] | None, language: str) -> EditionMessage | None:
        """The message in the subscriber's language; the site's when it has no catalog or no rendering."""
        if by_language is None:
            return None
        return by_language.get(language_for(language, self.site_language)) or by_language.get(self.site_language)

    def _messages_for(self, edition_ids: set[int]) -> dict[int, dict[str, EditionMessage] | None]:
        """The built messages of each edition, one per language (built once per edition and worker, then kept)."""
        missing = edition_ids - self._messages.keys()
        if missing:
            for edition_id, edition in self.store.frozen_editions(missing).items():
                self._messages[edition_id] = self._messages_of(edition) if edition is not None else None
        for stale in list(self._messages.keys() - edition_ids)[: max(0, len(self._messages) - MESSAGES_KEPT)]:
            del self._messages[stale]
        return {edition_id: self._messages[edition_id] for edition_id in edition_ids}

    def _messages_of(self, edition: Edition) -> dict[str, EditionMessage]:
        others = self.store.renderings(edition.id)
        messages = {self.site_language: self._message(edition, self.site_language, None)}
        return messages | {language: self._message(edition, language, body) for language, body in others.items()}

    def _message(self, edition: Edition, language: str, body: tuple[str, str] | None) -> EditionMessage:
        return EditionMessage(
            edition,
            self.config.mail.from_address,
            self.config.site.name,
            site_links(self.config.site.base_url, self.runtime.secret_key),
            sign=self.sign,
            unsubscribe_mailbox=self.config.mail.unsubscribe_mailbox,
            language=language,
            body=body,
        )


def _collect(results: queue.SimpleQueue[Outcome], outcomes: list[Outcome]) -> bool:
    """Wait up to RECORD_SECONDS for an outcome, then take those already waiting too (up to RECORD_EVERY in
    all), so that the worker's loop wakes once per handful of outcomes rather than once for each; return
    whether any of those taken failed."""
    try:
        taken = [results.get(timeout=RECORD_SECONDS)]
    except queue.Empty:
        return False
    with contextlib.suppress(queue.Empty):
        while len(outcomes) + len(taken) < RECORD_EVERY:
            taken.append(results.get_nowait())
    outcomes += taken
    return any(outcome.result in FAILED_RESULTS for outcome in taken)
