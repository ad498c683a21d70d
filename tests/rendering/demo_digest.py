"""The demo digest: the bundled sample sources collected, every item approved, the week's digest assembled
(what `digest init --demo`, `digest collect`, approving everything and `digest edition create --type digest`
make)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from digest.audit import SYSTEM
from digest.demo import DEMO_SOURCES, load_demo
from digest.editions.assembly import assemble_digest
from digest.items.queue import decide
from digest.models import Edition, Item
from digest.runtime import Runtime
from sources.collector import collect


def demo_digest(runtime: Runtime, now: datetime) -> int:
    """The id of the demo digest, assembled at ``now`` from the sample feeds."""
    with runtime.sessions() as session, session.begin():
        load_demo(session, list(DEMO_SOURCES))
    collect(runtime, now=now)
    with runtime.sessions() as session, session.begin():
        pending = list(session.scalars(select(Item.id).where(Item.status == "pending")))
        decide(session, SYSTEM, pending, "approved")
        edition: Edition = assemble_digest(session, runtime.config.site.timezone, now=now).require()
        return edition.id
