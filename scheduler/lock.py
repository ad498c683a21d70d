"""One scheduler at a time: a lease on the row of ``scheduler_lock``, renewed by a heartbeat.

The holder renews its lease long before it runs out; another scheduler may take it only once it has run
out, so one that died or hangs is replaced within a lease. Renewing and taking over are each one
conditional UPDATE, atomic on SQLite and PostgreSQL alike; the first holder ever INSERTs the row, and
the loser of an INSERT race gets an IntegrityError. Times come from the schedulers' own clocks: keep the
machines' clocks in sync (NTP) when schedulers run on several of them.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digest.models import SchedulerLock, utcnow

LOCK_NAME = "scheduler"


def scheduler_identity() -> str:
    """Who holds the lease, as a person reading the editors' page or a log needs to know it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Holder:
    owner: str
    acquired_at: datetime
    expires_at: datetime


class Lease:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        owner: str,
        seconds: float,
        clock: Callable[[], datetime] = utcnow,
        name: str = LOCK_NAME,
    ) -> None:
        self.sessions = sessions
        self.owner = owner
        self.duration = timedelta(seconds=seconds)
        self.clock = clock
        self.name = name

    def acquire(self) -> bool:
        """Hold the lease: renew it if it is ours, take it if it ran out, or create it. False: someone else has it."""
        return self.renew() or self._take_over() or self._create()

    def renew(self) -> bool:
        """Extend our lease; False when it is no longer ours (another scheduler took it over)."""
        now = self.clock()
        with self.sessions() as session, session.begin():
            renewed = session.execute(
                update(SchedulerLock)
                .where(SchedulerLock.name == self.name, SchedulerLock.owner == self.owner)
                .values(expires_at=now + self.duration)
            )
            return renewed.rowcount == 1

    def release(self) -> None:
        """Give the lease up at once, so a waiting scheduler need not wait for it to run out."""
        with self.sessions() as session, session.begin():
            session.execute(
                delete(SchedulerLock).where(SchedulerLock.name == self.name, SchedulerLock.owner == self.owner)
            )

    def holder(self) -> Holder | None:
        with self.sessions() as session:
            return current_holder(session, self.name)

    def _take_over(self) -> bool:
        now = self.clock()
        with self.sessions() as session, session.begin():
            taken = session.execute(
                update(SchedulerLock)
                .where(SchedulerLock.name == self.name, SchedulerLock.expires_at < now)
                .values(owner=self.owner, acquired_at=now, expires_at=now + self.duration)
            )
            return taken.rowcount == 1

    def _create(self) -> bool:
        now = self.clock()
        try:
            with self.sessions() as session, session.begin():
                if session.get(SchedulerLock, self.name) is not None:
                    return False
                lock = SchedulerLock(name=self.name, owner=self.owner, acquired_at=now, expires_at=now + self.duration)
                session.add(lock)
        except IntegrityError:  # another scheduler created it first
            return False
        return True


def current_holder(session: Session, name: str = LOCK_NAME) -> Holder | None:
    lock = session.scalar(select(SchedulerLock).where(SchedulerLock.name == name))
    return Holder(lock.owner, lock.acquired_at, lock.expires_at) if lock else None
