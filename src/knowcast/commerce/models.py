"""Commerce tables: shelf, orders and their items, payments, webhook receipts, entitlements, purchase counters.

Coupons, flash sales and draws live in promotions.py beside this file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from knowcast.catalog.kinds import ProductKind
from knowcast.catalog.models import str_enum
from knowcast.commerce.states import EntitlementKind, OrderState, PaymentState
from knowcast.db.base import Base, TimestampMixin
from knowcast.db.types import UTCDateTime, utcnow
from knowcast.privacy.crypto import EncryptedText


class ShelfItem(Base):
    """A product on a room's shelf. At most one item per room is pinned ("now explaining")."""

    __tablename__ = "shelf_items"
    __table_args__ = (UniqueConstraint("room_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # the stream's program date-time at the pin, so each viewer sees it when their video gets there
    pin_program_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"), default=None, index=True)
    state: Mapped[OrderState] = mapped_column(str_enum(OrderState), default=OrderState.PENDING, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    coupon_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    flash_sale_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), default=None)
    claim_id: Mapped[str | None] = mapped_column(String(40), default=None, unique=True)  # the gate's ticket
    source: Mapped[str] = mapped_column(String(16), default="buy")  # buy | flash | draw
    reserved_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # refunded/cancelled/expired
    # the buyer's variants in the experiments running when the order was made: {experiment key: variant key}
    variants: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    kind: Mapped[ProductKind] = mapped_column(str_enum(ProductKind))
    title: Mapped[str] = mapped_column(String(120))  # as it was when bought
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    slot_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # a consultation's "what I'd like to talk about", written by the buyer: personal data, encrypted
    note: Mapped[str | None] = mapped_column(EncryptedText("order_items.note"), default=None)


class Payment(TimestampMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("provider", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    # our out_trade_no (made per payment), or the provider's own checkout id where it names it (Stripe cs_...)
    reference: Mapped[str] = mapped_column(String(120))
    method: Mapped[str | None] = mapped_column(String(24), default=None)  # a PayMethod value
    state: Mapped[PaymentState] = mapped_column(str_enum(PaymentState), default=PaymentState.CREATED)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    checkout_url: Mapped[str] = mapped_column(Text)  # "" when the buyer is not redirected (a QR code, JSAPI)
    qr_code: Mapped[str | None] = mapped_column(Text, default=None)
    jsapi: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    provider_trade_id: Mapped[str | None] = mapped_column(String(120), default=None)  # transaction_id / trade_no
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)  # refunded so far (partial refunds add up)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # closed at the provider
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # when we learnt it was paid
    # when the sweeper next asks the provider about this open payment (a notification that never came)
    next_query_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    query_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # money arrived for an order that had already expired or been cancelled: it must go back
    refund_due: Mapped[bool] = mapped_column(default=False)


class PaymentRefund(Base):
    """One refund of a payment (full or partial), ours or one the provider told us about."""

    __tablename__ = "payment_refunds"
    __table_args__ = (UniqueConstraint("payment_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    reference: Mapped[str] = mapped_column(String(120))  # our out_refund_no (or the provider's refund id)
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | succeeded | failed
    provider_refund_id: Mapped[str | None] = mapped_column(String(120), default=None)
    product_ids: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True), default=None)  # revoked
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)  # None: the provider or the system
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class PaymentMismatch(Base):
    """A difference reconciliation found between a provider's statement and our payments (one per kind,
    reference and day, so a rerun finds the same rows)."""

    __tablename__ = "payment_mismatches"
    __table_args__ = (UniqueConstraint("provider", "day", "kind", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    day: Mapped[str] = mapped_column(String(10), index=True)  # YYYY-MM-DD, the provider's statement day
    # provider_only | knowcast_only | amount (payments); refund_provider_only | refund_knowcast_only | refund_amount
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(120))
    order_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    ours: Mapped[int | None] = mapped_column(BigInteger, default=None)  # amount in our books
    theirs: Mapped[int | None] = mapped_column(BigInteger, default=None)  # amount on the statement
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ReconciliationRun(Base):
    """One reconciliation of a provider's day (the nightly run claims the row first, so one process does it)."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (UniqueConstraint("provider", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    day: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    mismatches: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(300), default=None)


class WebhookReceipt(Base):
    """Every provider event applied once: a repeated event id finds its receipt and changes nothing."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Entitlement(Base):
    """Something a user owns: granted on payment (or a draw prize), revoked on refund."""

    __tablename__ = "entitlements"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), default=None, index=True)
    kind: Mapped[EntitlementKind] = mapped_column(str_enum(EntitlementKind))
    room_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    slot_id: Mapped[int | None] = mapped_column(Integer, default=None)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class PurchaseCounter(Base):
    """Units a user holds under a limit (a product, a flash sale, a coupon), changed only conditionally."""

    __tablename__ = "purchase_counters"
    __table_args__ = (UniqueConstraint("scope", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))  # product:7 | sale:3 | coupon:5
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class OutboxMessage(Base):
    """Work that must follow a commit even if the process dies right after it (a transactional outbox):
    sandbox webhooks to deliver over HTTP, flash-gate releases to apply."""

    __tablename__ = "commerce_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), index=True)  # sandbox.webhook | gate.release
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
