"""The archive stamp: one number in the database, raised in the transaction that changes what the
public archive shows (an edition sent). The archive (`archive/kept.py`) keys every kept page on it,
so every process — web apps, workers, the scheduler — agrees at once on what is current."""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from digest.models import ArchiveStamp, utcnow

STAMP_ID = 1


def mark_archive_changed(session: Session) -> None:
    """Say, in the caller's transaction, that what the public archive shows has changed: once it
    commits, every process serves freshly built pages."""
    raised = session.execute(
        update(ArchiveStamp)
        .where(ArchiveStamp.id == STAMP_ID)
        .values(version=ArchiveStamp.version + 1, changed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if raised.rowcount == 0:  # a database made before the stamp's migration filled it
        session.add(ArchiveStamp(id=STAMP_ID, version=1, changed_at=utcnow()))


def read_archive_stamp(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(ArchiveStamp.version).where(ArchiveStamp.id == STAMP_ID)).scalar() or 0
