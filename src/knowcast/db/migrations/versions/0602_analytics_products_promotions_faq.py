"""analytics: buyers per product, orders closed unpaid, coupons and flash sales, FAQ auto-replies, reminders

Revision ID: 0602
Revises: 0601
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0602"
down_revision: str | None = "0601"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_room_product_buyers",
        sa.Column("room_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("buyer", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "product_id", "buyer", name=op.f("pk_analytics_room_product_buyers")),
    )
    op.create_table(
        "analytics_room_promotions",
        sa.Column("room_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("promotion_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("gmv", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("refunds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "kind", "promotion_id", name=op.f("pk_analytics_room_promotions")),
    )
    op.create_table(
        "analytics_room_faq",
        sa.Column("room_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("faq_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("keyword", sa.String(length=40), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "faq_id", "keyword", name=op.f("pk_analytics_room_faq")),
    )
    with op.batch_alter_table("analytics_room_products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unpaid", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("analytics_rooms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("analytics_rooms", schema=None) as batch_op:
        batch_op.drop_column("reminders")
    with op.batch_alter_table("analytics_room_products", schema=None) as batch_op:
        batch_op.drop_column("unpaid")
    op.drop_table("analytics_room_faq")
    op.drop_table("analytics_room_promotions")
    op.drop_table("analytics_room_product_buyers")
