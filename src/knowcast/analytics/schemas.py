"""What crosses the analytics edge: browser events, the host's inputs, and a few outputs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from knowcast.db.types import MAX_ROW_ID
from knowcast.validation import Input

MAX_ID = MAX_ROW_ID
Id = Field(ge=1, le=MAX_ID)
Money = Field(ge=0, le=10**12)
Label = Field(default="", max_length=64)


class BrowserEvent(Input):
    """One event from a viewer's browser. Unknown fields are ignored; a kind the browser may not send (an
    order, a payment) is not refused here but dropped and counted by the intake."""

    model_config = ConfigDict(extra="ignore")

    kind: str = Field(min_length=1, max_length=32)
    room_id: int = Id
    view_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,40}$")
    at: int | None = Field(default=None, ge=0, le=10**14, description="the browser's clock, ms since the epoch")
    product_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    watched_ms: int | None = Field(default=None, ge=0, le=3_600_000)
    utm_source: str | None = Field(default=None, max_length=200)
    utm_medium: str | None = Field(default=None, max_length=200)
    utm_campaign: str | None = Field(default=None, max_length=200)
    ref: str | None = Field(default=None, max_length=200)
    referrer: str | None = Field(default=None, max_length=2000)
    target: str | None = Field(default=None, max_length=32, description="where a share went")


class EventBatch(Input):
    events: list[BrowserEvent] = Field(min_length=1, max_length=50)


class IntakeResult(BaseModel):
    accepted: int
    rejected: int
    reasons: dict[str, int]


class CostIn(Input):
    category: Literal["ads", "host_fee", "equipment", "tools", "other"]
    channel: str = Label
    amount: int = Money
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    note: str = Field(default="", max_length=200)


class CostOut(BaseModel):
    id: int
    room_id: int
    category: str
    channel: str
    amount: int
    currency: str
    note: str


class ShareLinkIn(Input):
    source: str = Field(min_length=1, max_length=64)
    medium: str = Label
    campaign: str = Label


class ShareLinkOut(BaseModel):
    id: int
    room_id: int
    source: str
    medium: str
    campaign: str
    url: str
    qr_url: str


class SegmentRules(Input):
    model_config = ConfigDict(extra="forbid")

    rfm: list[Annotated[str, StringConstraints(max_length=32)]] = Field(default_factory=list, max_length=11)
    interest: str | None = Field(default=None, max_length=16)
    min_orders: int | None = Field(default=None, ge=0, le=10**6)
    min_streams: int | None = Field(default=None, ge=0, le=10**6)
    min_watch_seconds: int | None = Field(default=None, ge=0, le=10**9)
    min_ltv: int | None = Field(default=None, ge=0, le=10**12)
    consented_only: bool = False


class SegmentIn(Input):
    name: str = Field(min_length=1, max_length=80)
    rules: SegmentRules


class SegmentOut(BaseModel):
    id: int
    name: str
    rules: dict[str, Any]
    size: int
    reachable: int  # members with an account that consented: usable as a coupon or draw audience


class VariantIn(Input):
    key: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    weight: int = Field(default=1, ge=1, le=1000)
    payload: dict[str, Any] = Field(default_factory=dict)


class PlanQuery(BaseModel):
    """What the sample-size calculator needs: control's expected conversion and the smallest lift worth finding."""

    baseline_rate: float = Field(default=0.05, gt=0, lt=1)  # 0.05 = 5 % of exposed visitors buy
    min_effect: float = Field(default=0.2, ge=0.01, le=10)  # relative: 0.2 = a 20 % higher rate
    variants: int = Field(default=2, ge=2, le=8)


class ExperimentIn(Input):
    name: str = Field(min_length=1, max_length=120)
    subject: Literal["price", "coupon", "pitch", "card"]
    room_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    variants: list[VariantIn] = Field(min_length=2, max_length=8)
    baseline_rate: float = Field(default=0.05, gt=0, lt=1)
    min_effect: float = Field(default=0.2, ge=0.01, le=10)


class OptimizeIn(Input):
    """The creator's constraints for the next stream: the ad budget cap and the price floor (margin) and ceiling."""

    budget: int = Field(default=0, ge=0, le=10**12)  # minor units
    min_price_ratio: float = Field(default=0.8, ge=0.1, le=1.0)  # 0.8: at most 20 % below today's price
    max_price_ratio: float = Field(default=1.5, ge=1.0, le=5.0)


class PlanIn(Input):
    spend: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64)], Annotated[int, Field(ge=0, le=10**12)]
    ] = Field(default_factory=dict, max_length=20)  # channel → ad budget (minor units)
    interaction_rate: float | None = Field(default=None, ge=0, le=1)
    price_change: float = Field(default=0.0, ge=-0.9, le=5.0)  # +0.1 = prices 10 % higher
