"""integrations: each webhook endpoint has its own random secret, stored encrypted

Endpoints made before this revision keep the secret their receivers know (HMAC of SECRET_KEY and the salt):
the app adopts it into ``secret`` when its webhook dispatcher starts, since encrypting needs the key ring,
which migrations do not load.

Revision ID: 0401
Revises: 0400
Create Date: 2026-11-28
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0401"
down_revision: str | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret", sa.Text(), nullable=True))
        batch_op.alter_column("secret_salt", existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    # an endpoint made after this revision has no salt: the old way cannot express its secret, so it gets a new
    # one (roll it afterwards to see it) rather than being lost
    bind = op.get_bind()
    endpoints = sa.table("webhook_endpoints", sa.column("id", sa.Integer), sa.column("secret_salt", sa.String))
    for (endpoint_id,) in bind.execute(sa.select(endpoints.c.id).where(endpoints.c.secret_salt.is_(None))):
        salt = secrets.token_urlsafe(32)
        bind.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(secret_salt=salt))
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column("secret_salt", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("secret")
