"""analytics: an experiment's plan (baseline rate, smallest lift worth finding, sample size per variant)

Revision ID: 0603
Revises: 0602
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0603"
down_revision: str | None = "0602"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_experiments") as batch:
        batch.add_column(sa.Column("baseline_rate", sa.Float(), nullable=True))
        batch.add_column(sa.Column("min_effect", sa.Float(), nullable=True))
        batch.add_column(sa.Column("sample_size", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analytics_experiments") as batch:
        batch.drop_column("sample_size")
        batch.drop_column("min_effect")
        batch.drop_column("baseline_rate")
