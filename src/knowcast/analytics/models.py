"""Analytics tables: the raw event log, view sessions, the facts reports read, and the host's own inputs.

Raw events and views are append-mostly and purged after ``analytics_retention_days`` (folded into
``analytics_daily_facts`` first). The per-room facts (visitors, minutes, products), profiles' interests,
touches and experiment exposures are kept: reports, profiles and experiments read those, never a re-scan of
the raw log. No foreign keys to other domains' tables: analytics learns rooms, products and orders from bus
events, and a deleted room or account must never block the log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from knowcast.db.base import Base
from knowcast.db.types import UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite's rowid alias must be INTEGER
Json = JSON(none_as_null=True)  # None is SQL NULL, so "keep the old value" merges work


class AnalyticsEvent(Base):
    """One event, append-only. ``visitor`` is a visitor id as docs/metrics.md defines it; ``user_id`` is set only
    on order events (a buyer is an account)."""

    __tablename__ = "analytics_events"
    __table_args__ = (
        Index("ix_analytics_events_room_kind_at", "room_id", "kind", "at"),
        Index("ix_analytics_events_at", "at"),
        Index("ix_analytics_events_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    room_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    visitor: Mapped[str] = mapped_column(String(40), default="")
    view_id: Mapped[str | None] = mapped_column(String(40), default=None)
    channel: Mapped[str] = mapped_column(String(64), default="")
    device: Mapped[str] = mapped_column(String(16), default="")
    product_id: Mapped[int | None] = mapped_column(Integer, default=None)
    order_id: Mapped[int | None] = mapped_column(Integer, default=None)
    user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    variants: Mapped[dict[str, Any] | None] = mapped_column(Json, default=None)
    data: Mapped[dict[str, Any] | None] = mapped_column(Json, default=None)
    origin: Mapped[str | None] = mapped_column(String(16), default=None)  # the process that wrote it


class ImportedStream(Base):
    """A past stream from another platform (``knowcast analytics import-history``): the forecasts' history too."""

    __tablename__ = "analytics_imported_streams"

    host_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    gmv: Mapped[int] = mapped_column(BigInteger)  # minor units
    viewers: Mapped[int] = mapped_column(Integer)
    orders: Mapped[int] = mapped_column(Integer)
    promotion: Mapped[bool] = mapped_column(Boolean, default=False)


class AnalyticsRoom(Base):
    """What analytics knows of a room, from room.* events."""

    __tablename__ = "analytics_rooms"

    room_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    host_id: Mapped[int] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    reminders: Mapped[int] = mapped_column(Integer, default=0)  # booked (预约) before it went live


class AnalyticsProduct(Base):
    """A product's title and kind as last seen on a shelf (for per-product tables and interests)."""

    __tablename__ = "analytics_products"

    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    host_id: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(120), default="")
    kind: Mapped[str] = mapped_column(String(16), default="")
    price: Mapped[int] = mapped_column(BigInteger, default=0)


class AnalyticsView(Base):
    """One watch session (PV): from its first heartbeat until 60 s of silence or leave."""

    __tablename__ = "analytics_views"
    __table_args__ = (Index("ix_analytics_views_user_key_last", "user_key", "last_beat_at"),)

    view_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    room_id: Mapped[int] = mapped_column(Integer, index=True)
    visitor: Mapped[str] = mapped_column(String(40))
    user_key: Mapped[str | None] = mapped_column(String(32), default=None)  # keyed hash of a signed-in account
    channel: Mapped[str | None] = mapped_column(String(64), default=None)
    medium: Mapped[str | None] = mapped_column(String(64), default=None)
    campaign: Mapped[str | None] = mapped_column(String(64), default=None)
    device: Mapped[str | None] = mapped_column(String(16), default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    watched_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class RoomVisitor(Base):
    """One visitor in one room: the facts behind UV, the funnel, channels, buyers and watch time."""

    __tablename__ = "analytics_room_visitors"

    room_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    visitor: Mapped[str] = mapped_column(String(40), primary_key=True)
    host_id: Mapped[int] = mapped_column(Integer, index=True, default=0)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(64), default=None)  # last touch in this room
    device: Mapped[str | None] = mapped_column(String(16), default=None)
    variants: Mapped[dict[str, Any] | None] = mapped_column(Json, default=None)
    views: Mapped[int] = mapped_column(Integer, default=0)
    watched_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    saw: Mapped[int] = mapped_column(Integer, default=0)
    clicked: Mapped[int] = mapped_column(Integer, default=0)
    ordered: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    interacted: Mapped[int] = mapped_column(Integer, default=0)
    interactions: Mapped[int] = mapped_column(Integer, default=0)
    orders_paid: Mapped[int] = mapped_column(Integer, default=0)
    gmv: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds: Mapped[int] = mapped_column(BigInteger, default=0)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    buyer_key: Mapped[str | None] = mapped_column(String(32), default=None)  # the buyer's account, hashed


class RoomMinute(Base):
    """Counts per room per minute: the report's timeline."""

    __tablename__ = "analytics_room_minutes"

    room_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # unix time // 60
    views_started: Mapped[int] = mapped_column(Integer, default=0)
    chat: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    interactions: Mapped[int] = mapped_column(Integer, default=0)
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    gmv: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds: Mapped[int] = mapped_column(BigInteger, default=0)


class RoomProduct(Base):
    """One product in one room: card impressions and clicks, and the order lines that name it (units, the
    paid amount allocated to the line, refunds, orders closed unpaid)."""

    __tablename__ = "analytics_room_products"

    room_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    units: Mapped[int] = mapped_column(Integer, default=0)
    gmv: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds: Mapped[int] = mapped_column(BigInteger, default=0)
    unpaid: Mapped[int] = mapped_column(Integer, default=0)  # orders that expired or were cancelled unpaid


class RoomProductBuyer(Base):
    """A buyer of a product in a room (distinct buyers per product). ``buyer`` is the account's user key, as
    in ``analytics_room_visitors.buyer_key``; a deleted account's key is replaced by an unlinkable one."""

    __tablename__ = "analytics_room_product_buyers"

    room_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    buyer: Mapped[str] = mapped_column(String(40), primary_key=True)


class RoomPromotion(Base):
    """A coupon or a flash sale in a room: claims (coupons), and the orders that used it."""

    __tablename__ = "analytics_room_promotions"

    room_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # coupon | flash
    promotion_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0: unknown
    claims: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    units: Mapped[int] = mapped_column(Integer, default=0)
    gmv: Mapped[int] = mapped_column(BigInteger, default=0)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds: Mapped[int] = mapped_column(BigInteger, default=0)


class RoomFaq(Base):
    """Automated FAQ answers (growth's auto-replies) in a room, per FAQ entry and the keyword that matched."""

    __tablename__ = "analytics_room_faq"

    room_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    faq_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    keyword: Mapped[str] = mapped_column(String(40), primary_key=True)
    replies: Mapped[int] = mapped_column(Integer, default=0)


class Touch(Base):
    """A visitor's first and last touch (channel) with a host, for first/last-touch attribution."""

    __tablename__ = "analytics_touches"

    host_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    visitor: Mapped[str] = mapped_column(String(40), primary_key=True)
    first_channel: Mapped[str] = mapped_column(String(64))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_channel: Mapped[str] = mapped_column(String(64))
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Interest(Base):
    """Product kinds a visitor saw, clicked and bought from a host (用户画像 interests)."""

    __tablename__ = "analytics_interests"

    host_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    visitor: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    seen: Mapped[int] = mapped_column(Integer, default=0)
    clicked: Mapped[int] = mapped_column(Integer, default=0)
    bought: Mapped[int] = mapped_column(Integer, default=0)


class DailyFact(Base):
    """Raw events past retention, folded: counts and amounts per room, day and kind."""

    __tablename__ = "analytics_daily_facts"

    room_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    visitors: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


class Rejection(Base):
    """Browser events refused at intake (forged or impossible), counted per room and reason."""

    __tablename__ = "analytics_rejections"

    room_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0: unknown room
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Cost(Base):
    """Money spent on a stream: ad spend per channel, or another cost (host fee, equipment, tools)."""

    __tablename__ = "analytics_costs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(Integer, index=True)
    room_id: Mapped[int] = mapped_column(Integer, index=True)
    category: Mapped[str] = mapped_column(String(16))  # ads | host_fee | equipment | tools | other
    channel: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShareLink(Base):
    __tablename__ = "analytics_share_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(Integer, index=True)
    room_id: Mapped[int] = mapped_column(Integer, index=True)
    source: Mapped[str] = mapped_column(String(64))
    medium: Mapped[str] = mapped_column(String(64), default="")
    campaign: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Segment(Base):
    """A saved audience: rules over profiles, usable as a coupon or draw audience."""

    __tablename__ = "analytics_segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(80))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Experiment(Base):
    __tablename__ = "analytics_experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(Integer, index=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(16))  # price | coupon | pitch | card
    room_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)  # None: every room of the host
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"key", "weight", "payload"}], first = control
    state: Mapped[str] = mapped_column(String(16), default="running")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # the plan fixed at creation: fixed-horizon statistics are shown only once every variant has sample_size
    baseline_rate: Mapped[float | None] = mapped_column(Float, default=None)
    min_effect: Mapped[float | None] = mapped_column(Float, default=None)  # relative lift worth finding (0.2 = +20 %)
    sample_size: Mapped[int | None] = mapped_column(Integer, default=None)  # visitors per variant


class Exposure(Base):
    """A visitor's assignment in an experiment, and what they did after it."""

    __tablename__ = "analytics_exposures"

    experiment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    visitor: Mapped[str] = mapped_column(String(40), primary_key=True)
    host_id: Mapped[int] = mapped_column(Integer, index=True)
    variant: Mapped[str] = mapped_column(String(40))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    conversions: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)


class Advice(Base):
    """A piece of advice shown to the host, the numbers behind it, and what happened after."""

    __tablename__ = "analytics_advice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(Integer, index=True)
    rule: Mapped[str] = mapped_column(String(32))
    numbers: Mapped[dict[str, Any]] = mapped_column(JSON)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(Json, default=None)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
