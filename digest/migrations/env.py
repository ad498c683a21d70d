"""Alembic environment: runs against the engine handed over by digest.db.upgrade."""

from alembic import context

from digest.db import include_name
from digest.models import Base

engine = context.config.attributes["engine"]


with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
