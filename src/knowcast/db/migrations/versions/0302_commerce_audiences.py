"""commerce: coupon drops and draws for an audience only (followers, a saved segment)

Revision ID: 0302
Revises: 0301
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0302"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("coupon_drops", "draws"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("audience", sa.String(length=40), nullable=True))


def downgrade() -> None:
    for table in ("draws", "coupon_drops"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("audience")
