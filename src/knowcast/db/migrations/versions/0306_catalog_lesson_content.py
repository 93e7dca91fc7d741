"""catalog: course content from the studio — drip release per lesson, uploaded lesson videos and files

Revision ID: 0306
Revises: 0305
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0306"
down_revision: str | None = "0305"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lessons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("release_after_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("product_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lesson_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_product_files_lesson_id"), ["lesson_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_product_files_lesson_id_lessons"), "lessons", ["lesson_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("product_files", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_product_files_lesson_id_lessons"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_product_files_lesson_id"))
        batch_op.drop_column("lesson_id")
    with op.batch_alter_table("lessons", schema=None) as batch_op:
        batch_op.drop_column("release_after_days")
