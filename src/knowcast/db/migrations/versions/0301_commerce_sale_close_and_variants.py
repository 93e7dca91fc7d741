"""commerce: closing ended flash sales (unsold units back to the product), experiment variants on orders and
coupon claims

Revision ID: 0301
Revises: 0300
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import knowcast.db.types

revision: str = "0301"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stock_returned", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_flash_sales_closed_at"), ["closed_at"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variants", sa.JSON(none_as_null=True), nullable=True))
    with op.batch_alter_table("coupon_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("experiment", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("variant", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("coupon_claims", schema=None) as batch_op:
        batch_op.drop_column("variant")
        batch_op.drop_column("experiment")
        batch_op.drop_column("value")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("variants")
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flash_sales_closed_at"))
        batch_op.drop_column("stock_returned")
        batch_op.drop_column("closed_at")
