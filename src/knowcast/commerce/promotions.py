"""Promotion tables: coupons (and their drops and claims), flash sales, lucky draws."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from knowcast.catalog.models import str_enum
from knowcast.db.base import Base
from knowcast.db.types import UTCDateTime, utcnow


class CouponKind(enum.StrEnum):
    FIXED = "fixed"  # value: minor units off
    PERCENT = "percent"  # value: percent off (1-100)


class Coupon(Base):
    __tablename__ = "coupons"
    __table_args__ = (UniqueConstraint("host_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), default=None)  # None: shop-wide
    kind: Mapped[CouponKind] = mapped_column(str_enum(CouponKind))
    value: Mapped[int] = mapped_column(BigInteger)
    min_spend: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    total_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    used: Mapped[int] = mapped_column(Integer, default=0)
    claim_required: Mapped[bool] = mapped_column(default=False)  # only holders of a claim may use it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CouponClaim(Base):
    __tablename__ = "coupon_claims"
    __table_args__ = (UniqueConstraint("coupon_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    drop_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # a coupon-value experiment gave this claimer their own value (else the coupon's), fixed at the claim
    value: Mapped[int | None] = mapped_column(BigInteger, default=None)
    experiment: Mapped[str | None] = mapped_column(String(40), default=None)
    variant: Mapped[str | None] = mapped_column(String(40), default=None)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CouponDrop(Base):
    """A coupon handed out in a room: first come first served within a claim window, ``quantity`` of them."""

    __tablename__ = "coupon_drops"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    audience: Mapped[str | None] = mapped_column(String(40), default=None)  # knowcast.ports; None: everyone


class FlashSale(Base):
    """A special price for ``stock_total`` units of one shelf product between starts_at and ends_at.

    ``stock_left`` in the database is the truth; the gates in front of it (in-process or Redis) only keep
    losers away from the database, and every win is confirmed by a conditional UPDATE of this row.
    """

    __tablename__ = "flash_sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stock_total: Mapped[int] = mapped_column(Integer)
    stock_left: Mapped[int] = mapped_column(Integer)
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    program_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # once ended, the sweeper closes the sale: its unsold units (and any that come back later) return to
    # the product's own stock, counted in stock_returned
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    stock_returned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DrawCondition(enum.StrEnum):
    KEYWORD = "keyword"  # comment the keyword in chat (or enter it in the draw card)
    WATCHING = "watching"  # be in the room when entering
    BOUGHT = "bought"  # have a paid order from this room


class DrawState(enum.StrEnum):
    OPEN = "open"
    DRAWN = "drawn"
    CANCELLED = "cancelled"


class Draw(Base):
    """A lucky draw. ``seed_hash`` = sha256(seed) is shown while it is open; the seed is revealed after."""

    __tablename__ = "draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    condition: Mapped[DrawCondition] = mapped_column(str_enum(DrawCondition))
    keyword: Mapped[str | None] = mapped_column(String(40), default=None)
    audience: Mapped[str | None] = mapped_column(String(40), default=None)  # knowcast.ports; None: everyone
    prize_product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), default=None)
    prize_coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"), default=None)
    winners_wanted: Mapped[int] = mapped_column(Integer)
    state: Mapped[DrawState] = mapped_column(str_enum(DrawState), default=DrawState.OPEN)
    seed_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[str] = mapped_column(String(64))  # secret until drawn
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DrawEntry(Base):
    __tablename__ = "draw_entries"
    __table_args__ = (UniqueConstraint("draw_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    won: Mapped[bool] = mapped_column(default=False)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
