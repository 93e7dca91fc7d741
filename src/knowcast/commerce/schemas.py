"""What crosses the edge for commerce. Quantities and ids are bounded here, so absurd input never reaches
the services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from knowcast.catalog.kinds import ProductKind
from knowcast.catalog.schemas import MAX_PRICE, MAX_STOCK, ProductPublic
from knowcast.commerce.flash_gate import Outcome
from knowcast.commerce.promotions import CouponKind, DrawCondition, DrawState
from knowcast.commerce.providers.base import PayMethod
from knowcast.commerce.states import EntitlementKind, OrderState
from knowcast.db.types import MAX_ROW_ID
from knowcast.ports import AUDIENCE_PATTERN
from knowcast.validation import EARLIEST, Input

MAX_QUANTITY = 100
MAX_NOTE = 1000
Key = Field(default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
PositiveId = Field(ge=1, le=MAX_ROW_ID)
# who may claim a drop or enter a draw: "followers", "segment:<id>" (knowcast.ports); None: everyone watching
Audience = Field(default=None, max_length=40, pattern=AUDIENCE_PATTERN)


class ItemIn(Input):
    product_id: int = PositiveId
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    slot_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    note: str | None = Field(default=None, max_length=MAX_NOTE)  # a consultation's topic, for the host

    @model_validator(mode="after")
    def _note_with_a_slot(self) -> ItemIn:
        if self.note is not None and self.slot_id is None:
            raise ValueError("a note goes with a consultation's time slot")
        self.note = (self.note or "").strip() or None
        return self


class OrderCreate(Input):
    items: list[ItemIn] = Field(min_length=1, max_length=20)
    room_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    coupon_code: str | None = Field(default=None, min_length=1, max_length=32)
    idempotency_key: str | None = Key


class ItemOut(BaseModel):
    product_id: int
    kind: ProductKind
    title: str
    quantity: int
    unit_price: int
    slot_id: int | None
    note: str | None = None  # the buyer's and the seller's to see


class OrderOut(BaseModel):
    id: int
    state: OrderState
    source: str
    room_id: int | None
    currency: str
    subtotal: int
    discount: int
    total: int
    coupon_id: int | None
    flash_sale_id: int | None
    items: list[ItemOut]
    reserved_until: datetime | None
    created_at: datetime
    paid_at: datetime | None
    checkout_url: str | None = None
    buyer: str | None = None
    refund_due: bool = False
    refunded: int = 0  # refunded so far (partial refunds add up; all of ``total`` when refunded in full)
    payment_method: str | None = None  # the PayMethod of the latest payment attempt


class CheckoutIn(Input):
    method: PayMethod | None = None  # None: the first enabled provider's first method


class CheckoutOut(BaseModel):
    order_id: int
    method: str | None  # the PayMethod in use; None for a free order (paid on the spot)
    checkout_url: str  # where to send the buyer; "" when the page shows a QR code or calls WeixinJSBridge
    qr_code: str | None = None  # text to render as a QR code (WeChat Native), polled until paid
    jsapi: dict[str, Any] | None = None  # WeixinJSBridge getBrandWCPayRequest parameters
    expires_at: datetime | None = None  # the order's hold ends then


class RefundIn(Input):
    """A host's refund: all that is left (no amount) or a part; ``product_ids`` are taken back with it."""

    amount: int | None = Field(default=None, strict=True, ge=1, le=MAX_PRICE)
    product_ids: list[int] = Field(default_factory=list, max_length=MAX_QUANTITY)
    reason: str = Field(default="", max_length=200)


class ReconcileIn(Input):
    provider: str = Field(min_length=1, max_length=16, pattern=r"^[a-z0-9_]+$")
    date: date

    @model_validator(mode="after")
    def _a_past_day(self) -> ReconcileIn:
        if not EARLIEST.date() <= self.date <= datetime.now(UTC).date() + timedelta(days=1):
            raise ValueError("a statement day lies between 2000 and today")
        return self


class MismatchOut(BaseModel):
    id: int
    provider: str
    day: str
    kind: str
    reference: str
    order_id: int | None
    ours: int | None
    theirs: int | None
    currency: str | None
    found_at: datetime
    resolved_at: datetime | None


class ReconciliationOut(BaseModel):
    provider: str
    day: str
    started_at: datetime
    finished_at: datetime | None
    lines: int
    mismatches: int
    error: str | None


class PaymentMethodOut(BaseModel):
    method: PayMethod
    provider: str
    label_key: str  # the locale key of the method's name (web/locales)


class ShelfAdd(Input):
    product_id: int = PositiveId


class PinIn(Input):
    product_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)  # None: unpin
    program_time: AwareDatetime | None = None  # the stream's program date-time; default: now


class ShelfEntry(BaseModel):
    product: ProductPublic  # for a viewer in an experiment: their price and card (offers.py)
    pinned: bool
    pin_program_time: datetime | None
    position: int
    pitch: str | None = None  # a pitch-text variant, shown on the product sheet
    badge: str | None = None  # a product-card variant's badge


class FlashSaleCreate(Input):
    product_id: int = PositiveId
    price: int = Field(ge=0, le=MAX_PRICE)
    stock: int = Field(ge=1, le=MAX_STOCK)
    per_user_limit: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    starts_at: AwareDatetime | None = None  # default: now
    duration_seconds: int = Field(default=600, ge=5, le=7 * 86400)
    program_time: AwareDatetime | None = None


class FlashSaleOut(BaseModel):
    id: int
    room_id: int
    product_id: int
    product_title: str
    price: int
    list_price: int
    currency: str
    stock_total: int
    stock_left: int
    stock_returned: int = 0  # unsold units given back to the product once the sale closed
    per_user_limit: int
    starts_at: datetime
    ends_at: datetime
    program_time: datetime | None
    status: Literal["scheduled", "running", "ended"]


class AttemptIn(Input):
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    idempotency_key: str | None = Key


class AttemptOut(BaseModel):
    outcome: Outcome
    order: OrderOut | None = None
    checkout_url: str | None = None


class CouponCreate(Input):
    code: str = Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    product_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    kind: CouponKind
    value: int = Field(ge=1, le=MAX_PRICE)
    min_spend: int = Field(default=0, ge=0, le=MAX_PRICE)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime
    total_limit: int | None = Field(default=None, ge=1, le=MAX_STOCK)
    per_user_limit: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    claim_required: bool = False

    @model_validator(mode="after")
    def _sane(self) -> CouponCreate:
        if self.kind is CouponKind.PERCENT and self.value > 100:
            raise ValueError("a percent coupon takes 1 to 100 percent off")
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CouponOut(BaseModel):
    id: int
    code: str
    product_id: int | None
    kind: CouponKind
    value: int
    min_spend: int
    currency: str
    starts_at: datetime
    ends_at: datetime
    total_limit: int | None
    per_user_limit: int
    used: int
    claim_required: bool


class DropCreate(Input):
    coupon_id: int = PositiveId
    quantity: int = Field(ge=1, le=MAX_STOCK)
    claim_seconds: int = Field(default=60, ge=5, le=86400)
    audience: str | None = Audience


class DropOut(BaseModel):
    id: int
    room_id: int
    coupon: CouponOut
    quantity: int
    claimed: int
    opens_at: datetime
    closes_at: datetime
    audience: str | None = None


class DrawCreate(Input):
    title: str = Field(min_length=1, max_length=120)
    condition: DrawCondition
    keyword: str | None = Field(default=None, min_length=1, max_length=40)
    prize_product_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    prize_coupon_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    winners: int = Field(ge=1, le=1000)
    duration_seconds: int = Field(default=120, ge=5, le=86400)
    audience: str | None = Audience

    @model_validator(mode="after")
    def _sane(self) -> DrawCreate:
        if (self.prize_product_id is None) == (self.prize_coupon_id is None):
            raise ValueError("give exactly one prize: prize_product_id or prize_coupon_id")
        if self.condition is DrawCondition.KEYWORD and not self.keyword:
            raise ValueError("a keyword draw needs a keyword")
        return self


class DrawEnter(Input):
    keyword: str | None = Field(default=None, max_length=200)


class DrawOut(BaseModel):
    id: int
    room_id: int
    title: str
    condition: DrawCondition
    keyword: str | None
    audience: str | None = None
    prize_product_id: int | None
    prize_coupon_id: int | None
    winners_wanted: int
    state: DrawState
    seed_hash: str
    seed: str | None  # revealed once drawn
    closes_at: datetime
    entries: int
    winner_ids: list[int]


class EntitlementOut(BaseModel):
    id: int
    kind: EntitlementKind
    product: ProductPublic
    order_id: int | None
    room_id: int | None
    slot_id: int | None
    starts_at: datetime
    ends_at: datetime | None
    active: bool


class CouponChoice(BaseModel):
    """One of the buyer's coupons against one order: its discount, or why it does not apply (a stable code)."""

    coupon: CouponOut  # at the value this buyer holds it with
    discount: int  # minor units off this order (0 when not eligible)
    eligible: bool
    best: bool  # the one applied by default
    selected: bool  # the one the order uses now
    reason_code: str | None = None  # e.g. coupon.min_spend, coupon.expired, coupon.not_with_flash
    reason: str | None = None


class CouponChoices(BaseModel):
    currency: str
    subtotal: int
    choices: list[CouponChoice]
    best_code: str | None
    selected_code: str | None


class CouponQuoteIn(Input):
    """What the buyer is about to order (the room's product sheet asks before buying)."""

    items: list[ItemIn] = Field(min_length=1, max_length=20)
    room_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)


class CouponSwitch(Input):
    coupon_code: str | None = Field(default=None, min_length=1, max_length=32)  # None: no coupon


class PendingOrder(BaseModel):
    """A product the viewer has ordered and not paid yet: the room's "去支付" (with the hold time left)."""

    order_id: int
    product_id: int
    total: int
    currency: str
    reserved_until: datetime | None
    flash_sale_id: int | None = None


class MyShop(BaseModel):
    """The viewer's own part of the room's shop (commerce/mine.py)."""

    pending: list[PendingOrder]
    owned: list[int]  # product ids bought once and owned now
    coupons: list[CouponOut]  # the host's coupons they hold, not expired
