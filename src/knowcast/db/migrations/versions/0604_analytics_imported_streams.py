"""analytics: past streams imported from another platform (knowcast analytics import-history)

Revision ID: 0604
Revises: 0603
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import knowcast.db.types

revision: str = "0604"
down_revision: str | None = "0603"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_imported_streams",
        sa.Column("host_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("gmv", sa.BigInteger(), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("promotion", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", "started_at", name=op.f("pk_analytics_imported_streams")),
    )


def downgrade() -> None:
    op.drop_table("analytics_imported_streams")
