"""edition_renderings: an edition frozen once per language its recipients read

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "edition_renderings",
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"], ["editions.id"], name=op.f("fk_edition_renderings_edition_id_editions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("edition_id", "language", name=op.f("pk_edition_renderings")),
    )


def downgrade() -> None:
    op.drop_table("edition_renderings")
