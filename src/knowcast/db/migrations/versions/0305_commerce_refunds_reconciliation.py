"""commerce: refunds (full and partial), payments' query schedule, reconciliation runs and mismatches

Revision ID: 0305
Revises: 0304
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import knowcast.db.types

revision: str = "0305"
down_revision: str | None = "0304"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_query_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("query_attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_payments_next_query_at"), ["next_query_at"], unique=False)
    op.create_table(
        "payment_refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=120), nullable=True),
        sa.Column("product_ids", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_payment_refunds_order_id_orders")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_payment_refunds_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refunds")),
        sa.UniqueConstraint("payment_id", "reference", name=op.f("uq_payment_refunds_payment_id")),
    )
    with op.batch_alter_table("payment_refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_refunds_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_refunds_payment_id"), ["payment_id"], unique=False)
    op.create_table(
        "payment_mismatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("ours", sa.BigInteger(), nullable=True),
        sa.Column("theirs", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("found_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_mismatches")),
        sa.UniqueConstraint("provider", "day", "kind", "reference", name=op.f("uq_payment_mismatches_provider")),
    )
    with op.batch_alter_table("payment_mismatches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_mismatches_day"), ["day"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_mismatches_order_id"), ["order_id"], unique=False)
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("started_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
        sa.UniqueConstraint("provider", "day", name=op.f("uq_reconciliation_runs_provider")),
    )


def downgrade() -> None:
    op.drop_table("reconciliation_runs")
    with op.batch_alter_table("payment_mismatches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_mismatches_order_id"))
        batch_op.drop_index(batch_op.f("ix_payment_mismatches_day"))
    op.drop_table("payment_mismatches")
    with op.batch_alter_table("payment_refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_refunds_payment_id"))
        batch_op.drop_index(batch_op.f("ix_payment_refunds_order_id"))
    op.drop_table("payment_refunds")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_next_query_at"))
        batch_op.drop_column("query_attempts")
        batch_op.drop_column("next_query_at")
        batch_op.drop_column("paid_at")
