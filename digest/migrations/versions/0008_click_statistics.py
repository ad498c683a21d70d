"""edition_links and delivery_clicks: click statistics per edition link (and per delivery when opted in)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "edition_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("clicks", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"], ["editions.id"], name=op.f("fk_edition_links_edition_id_editions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edition_links")),
        sa.UniqueConstraint("edition_id", "number", name=op.f("uq_edition_links_edition_id")),
    )
    op.create_table(
        "delivery_clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_clicked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_clicks_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"], ["edition_links.id"], name=op.f("fk_delivery_clicks_link_id_edition_links"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_clicks")),
        sa.UniqueConstraint("delivery_id", "link_id", name=op.f("uq_delivery_clicks_delivery_id")),
    )
    with op.batch_alter_table("delivery_clicks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_clicks_link_id"), ["link_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery_clicks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_clicks_link_id"))
    op.drop_table("delivery_clicks")
    op.drop_table("edition_links")
