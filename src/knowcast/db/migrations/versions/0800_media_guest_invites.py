"""media: one-time guest invitations onto a room's stage (连麦)

Revision ID: 0800
Revises: 0700
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import knowcast.db.types

revision: str = "0800"
down_revision: str | None = "0700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_guest_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", knowcast.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_media_guest_invites_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_media_guest_invites_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_media_guest_invites_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_guest_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_media_guest_invites_token_hash")),
    )
    with op.batch_alter_table("media_guest_invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_guest_invites_room_id"), ["room_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media_guest_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_guest_invites_room_id"))
    op.drop_table("media_guest_invites")
