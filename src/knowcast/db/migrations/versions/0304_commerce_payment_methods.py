"""commerce: payments remember their method, QR code / JSAPI parameters, trade id, refunded sum, closing

Revision ID: 0304
Revises: 0303
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import knowcast.db.types

revision: str = "0304"
down_revision: str | None = "0303"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("method", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("qr_code", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("jsapi", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("provider_trade_id", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("refunded", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("closed_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.alter_column("checkout_url", existing_type=sa.String(length=500), type_=sa.Text())


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column("checkout_url", existing_type=sa.Text(), type_=sa.String(length=500))
        batch_op.drop_column("closed_at")
        batch_op.drop_column("refunded")
        batch_op.drop_column("provider_trade_id")
        batch_op.drop_column("jsapi")
        batch_op.drop_column("qr_code")
        batch_op.drop_column("method")
