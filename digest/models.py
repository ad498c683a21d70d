"""The data model (SQLAlchemy 2.x). Times are stored as UTC and always returned timezone-aware."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.engine import ExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from digest.config import SOURCE_KINDS
from digest.search_document import edition_vector, item_vector
from digest.subscribers.preferences import preference_keys
from digest.titles import title_index

ITEM_KINDS = ("news", "event", "call", "achievement")
ITEM_STATUSES = ("pending", "approved", "rejected", "published", "expired")
EDITION_TYPES = ("newsletter", "digest")
EDITION_STATUSES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled")  # paused: too many failures
SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "bounced")
EDITOR_ROLES = ("editor", "admin")
FEEDBACK_KINDS = ("hard", "soft", "complaint")  # what a bounce or complaint report says of a delivery
REPORT_KINDS = (*FEEDBACK_KINDS, "unknown")
ERASED_DOMAIN = "erased.invalid"  # the address of a forgotten subscriber's anonymous row (subscribers.roster)
SECTION_LAYOUTS = ("cards", "list")  # a section's items as full cards, or as one-line rows (title, date, link)

# Text columns and their lengths, for checking input before it is stored (PostgreSQL enforces them; SQLite
# does not).
TEXT_LIMITS = {
    "title": 500,
    "url": 2048,
    "organisation": 300,
    "country": 100,
    "location": 500,
    "timezone": 64,
    "guid": 2048,
    "topic": 60,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uid() -> str:
    return secrets.token_hex(16)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every backend and hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timezone-aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """A CHECK that the column holds one of the values; the naming convention calls it ck_<table>_<column>."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (one_of("kind", SOURCE_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    kind: Mapped[str] = mapped_column(String(16), default="auto")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    last_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_warning: Mapped[str | None] = mapped_column(Text)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    next_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _title_index(title: str | None) -> tuple[str | None, str | None, str | None]:
    return title_index(title)


def _title_index_default(position: int) -> Any:
    """A column default for rows inserted without the ORM (the collectors' executemany)."""

    def default(context: ExecutionContext) -> str | None:
        return _title_index(context.get_current_parameters().get("title"))[position]

    return default


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_status_kind", "status", "kind"),
        # covers the archive's checks of what changed: the calendars' approved events, the search index's signature
        Index("ix_items_status_kind_updated_at", "status", "kind", "updated_at"),
        Index("ix_items_source_guid", "source_id", "guid"),
        Index("ix_items_status_collected_at", "status", "collected_at"),  # the editors' queue, newest first
        Index("ix_items_country", "country"),  # the queue's country filter and its list of countries
        one_of("kind", ITEM_KINDS),
        one_of("status", ITEM_STATUSES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    title: Mapped[str] = mapped_column(String(500))
    # The title's dedup keys (sources.dedup.title_index), kept with the title: the exact key, and the first
    # and last three words of a long one, so a near-identical title is found through an index.
    title_key: Mapped[str | None] = mapped_column(String(500), index=True, default=_title_index_default(0))
    title_head: Mapped[str | None] = mapped_column(String(500), index=True, default=_title_index_default(1))
    title_tail: Mapped[str | None] = mapped_column(String(500), index=True, default=_title_index_default(2))
    summary: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2048), index=True)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    organisation: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(100))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(String(500))
    timezone: Mapped[str | None] = mapped_column(String(64))  # the zone the source gave its times in
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The source gave dates only: an all-day event (its start is the first day's midnight, its end a moment of
    # the last day, both in `timezone`), or a call whose deadline is a whole day (its last second).
    all_day: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    origin: Mapped[str] = mapped_column(String(16), default="feed")  # feed | submission
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    guid: Mapped[str | None] = mapped_column(String(2048))
    dedup_key: Mapped[str] = mapped_column(String(64), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    editor_note: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # an editor's approval opens its digest window

    source: Mapped[Source | None] = relationship()

    @validates("title")
    def _keep_title_index(self, _name: str, title: str) -> str:
        self.title_key, self.title_head, self.title_tail = _title_index(title)
        return title

    @property
    def source_name(self) -> str:
        if self.origin == "submission":
            return "submission"
        return self.source.name if self.source else "(removed source)"


UNCONFIRMED = text("notified_status IS NULL")


class Submission(Base):
    __tablename__ = "submissions"
    # The worker looks for due confirmations every few seconds (digest.submissions.notices): only they are here.
    __table_args__ = (
        Index("ix_submissions_unconfirmed", "id", sqlite_where=UNCONFIRMED, postgresql_where=UNCONFIRMED),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation: Mapped[str] = mapped_column(String(300))
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"), index=True)
    # The item's status the submitter was last told about; None: nothing yet, the confirmation is due
    # (digest/submissions/notices.py sends the rest).
    notified_status: Mapped[str | None] = mapped_column(String(16))

    item: Mapped[Item | None] = relationship()


class Edition(Base):
    __tablename__ = "editions"
    __table_args__ = (one_of("type", EDITION_TYPES), one_of("status", EDITION_STATUSES))

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    preheader: Mapped[str] = mapped_column(String(300), default="")
    # False: the preheader is generated from the items and follows every change; True: an editor wrote it.
    preheader_by_hand: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    intro: Mapped[str] = mapped_column(Text, default="")
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    window_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    archive_html: Mapped[str | None] = mapped_column(Text)  # the untrimmed edition, when the email had to be trimmed
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[bool] = mapped_column(Boolean, default=False)  # an editor stopped automatic sending
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    failure_streak: Mapped[int] = mapped_column(Integer, default=0)  # deliveries failed in a row (pauses)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entries: Mapped[list[EditionItem]] = relationship(
        back_populates="edition",
        order_by="EditionItem.position",
        cascade="all, delete-orphan",
    )
    sections: Mapped[list[EditionSection]] = relationship(
        back_populates="edition",
        order_by="EditionSection.position",
        cascade="all, delete-orphan",
    )


class EditionSection(Base):
    """A section of an edition: a stable key (what assembly files items by), the title editors give it,
    its place and its layout. It outlives its items, so a renamed section keeps its name and layout."""

    __tablename__ = "edition_sections"
    __table_args__ = (
        UniqueConstraint("edition_id", "key"),
        UniqueConstraint("edition_id", "title", name="uq_edition_sections_title"),
        one_of("layout", SECTION_LAYOUTS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    layout: Mapped[str] = mapped_column(String(8), default="cards")

    edition: Mapped[Edition] = relationship(back_populates="sections")


class EditionItem(Base):
    __tablename__ = "edition_items"
    __table_args__ = (UniqueConstraint("edition_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="RESTRICT"), index=True)
    section: Mapped[str] = mapped_column(String(100))  # the title of its EditionSection (kept in step)
    position: Mapped[int] = mapped_column(Integer)

    edition: Mapped[Edition] = relationship(back_populates="entries")
    item: Mapped[Item] = relationship()


def postgresql_expression_index(name: str, expression: Any, **options: Any) -> Index:
    """An index on an expression, built on PostgreSQL alone: create_all honours ddl_if, and
    digest.db.schema_filters reads the marks in `info` for Alembic."""
    index = Index(name, expression, info={"dialect": "postgresql", "expression": True}, **options)
    return index.ddl_if(dialect="postgresql")


# The archive search's full-text documents (digest.search_document); SQLite's search has its FTS5 table.
postgresql_expression_index("ix_items_search", item_vector(Item.__table__), postgresql_using="gin")
postgresql_expression_index("ix_editions_search", edition_vector(Edition.__table__), postgresql_using="gin")


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (one_of("status", SUBSCRIBER_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)  # what signed tokens carry
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_email: Mapped[str | None] = mapped_column(String(320))  # a new address awaiting confirmation
    # Written from `preferences` on every flush (listener below): see digest/subscribers/preferences.py.
    wanted_editions: Mapped[str] = mapped_column(String(100), default="|digest|newsletter|")
    wanted_topics: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(Subscriber, "before_insert")
@event.listens_for(Subscriber, "before_update")
def _index_subscriber_preferences(_mapper: Any, _connection: Any, subscriber: Subscriber) -> None:
    subscriber.wanted_editions, subscriber.wanted_topics = preference_keys(subscriber.preferences)


QUEUED = text("status = 'queued'")
SENDING = text("status = 'sending'")


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        Index("ix_deliveries_edition_status", "edition_id", "status"),
        # The worker's claim walks these (ledger.claim_batch): they hold only the rows still to do, so a
        # claim costs the same at the start of a send and at its end, however many rows are sent.
        Index("ix_deliveries_queued", "id", sqlite_where=QUEUED, postgresql_where=QUEUED),
        Index("ix_deliveries_sending", "claimed_at", sqlite_where=SENDING, postgresql_where=SENDING),
        Index("ix_deliveries_sent_at", "sent_at"),  # the list health: what went out in the last 30 days
        one_of("status", DELIVERY_STATUSES),
        one_of("feedback", FEEDBACK_KINDS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(300), index=True)  # bounce reports quote it
    # What later reports said of it (digest/bounces/): the strongest of hard, soft and complaint.
    feedback: Mapped[str | None] = mapped_column(String(16))
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscriber: Mapped[Subscriber] = relationship()


class EditionRendering(Base):
    """An edition frozen in one more language than the site's (whose rendering stays in Edition.html/text):
    one row per language its recipients read, written when it is sent (digest.editions.compose.freeze)."""

    __tablename__ = "edition_renderings"

    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)  # a shipped language, e.g. "fr"
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)


class EditionLink(Base):
    """A link of a sent edition and how often it was followed (digest/analytics/). Its click token names
    the edition and `number`, never the URL: only a URL that was in the edition can be a redirect target."""

    __tablename__ = "edition_links"
    __table_args__ = (UniqueConstraint("edition_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … in the order the links first appear in the email
    url: Mapped[str] = mapped_column(String(2048))
    clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DeliveryClick(Base):
    """Who followed a link: only written when `analytics.per_subscriber` is on."""

    __tablename__ = "delivery_clicks"
    __table_args__ = (UniqueConstraint("delivery_id", "link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    link_id: Mapped[int] = mapped_column(ForeignKey("edition_links.id", ondelete="CASCADE"), index=True)
    clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_clicked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryReport(Base):
    """One bounce or complaint report (from the bounce mailbox or the relay's webhook), or one not understood.

    ``report_key`` makes processing idempotent: the same report read twice is recorded once."""

    __tablename__ = "delivery_reports"
    __table_args__ = (Index("ix_delivery_reports_kind_received", "kind", "received_at"), one_of("kind", REPORT_KINDS))

    id: Mapped[int] = mapped_column(primary_key=True)
    report_key: Mapped[str] = mapped_column(String(100), unique=True)
    origin: Mapped[str] = mapped_column(String(16))  # mailbox | webhook
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(32))  # 5.1.1, 4.2.2, abuse, …
    action: Mapped[str | None] = mapped_column(String(32))  # failed, delayed, … as the report says
    reason: Mapped[str | None] = mapped_column(String(1000))  # the diagnostic, or why it was not understood
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    raw: Mapped[str | None] = mapped_column(Text)  # only a report not understood keeps its text, for a person


class Editor(Base):
    __tablename__ = "editors"
    __table_args__ = (one_of("role", EDITOR_ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16), default="editor")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every session's key: logging out or a new password moves it on, ending every session at once.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Suppression(Base):
    """An address that must never be mailed or re-added, kept only as a hash (after "forget me")."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what, when, to which item, edition, source or subscriber."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("editors.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320))  # the editor's email, or "system"/"cli"
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SchedulerLock(Base):
    """One scheduler at a time: the holder renews its lease; a stale lease can be taken over."""

    __tablename__ = "scheduler_lock"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """The outcome of each scheduled job run, shown to the editors."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_job_started", "job", "started_at"),
        Index("ix_job_runs_job_scheduled", "job", "scheduled_for"),  # the trigger time a job last answered
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16), default="running")  # running | ok | skipped | error | interrupted
    detail: Mapped[str | None] = mapped_column(Text)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the trigger time this run answers
    owner: Mapped[str | None] = mapped_column(String(200))  # the scheduler (host:pid:…) that ran it


class ArchiveStamp(Base):
    """What the public archive shows, as a number every process reads: raised in the transaction that
    sends an edition (digest.stamp.mark_archive_changed), so kept pages of every web process go stale at once."""

    __tablename__ = "archive_stamp"

    id: Mapped[int] = mapped_column(primary_key=True)  # one row, id 1
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
