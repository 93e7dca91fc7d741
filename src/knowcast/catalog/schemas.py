"""What crosses the edge for the catalog. Money is integer minor units; absurd values are refused here."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from knowcast.catalog.kinds import ROOM_KINDS, LessonKind, ProductKind
from knowcast.validation import Input, WebUrl

MAX_PRICE = 100_000_000  # one million yuan in fen: anything above is a typo
MAX_STOCK = 1_000_000
MAX_LIMIT = 1000
Money = Field(ge=0, le=MAX_PRICE)


def _clean_title(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


class ProductCreate(Input):
    kind: ProductKind
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=20_000)
    price: int = Money
    list_price: int | None = Field(default=None, ge=0, le=MAX_PRICE)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK)
    per_user_limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    room_id: int | None = Field(default=None, ge=1)
    membership_days: int | None = Field(default=None, ge=1, le=3660)

    _title = field_validator("title")(_clean_title)

    @model_validator(mode="after")
    def _kind_needs(self) -> ProductCreate:
        if self.kind in ROOM_KINDS and self.room_id is None:
            raise ValueError(f"a {self.kind.value} needs room_id")
        if self.kind is ProductKind.MEMBERSHIP and self.membership_days is None:
            raise ValueError("a membership needs membership_days")
        if self.list_price is not None and self.list_price < self.price:
            raise ValueError("list_price is the price before discount, so it cannot be below price")
        return self


class ProductUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=20_000)
    price: int | None = Field(default=None, ge=0, le=MAX_PRICE)
    list_price: int | None = Field(default=None, ge=0, le=MAX_PRICE)
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK)
    per_user_limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    is_active: bool | None = None
    membership_days: int | None = Field(default=None, ge=1, le=3660)
    room_id: int | None = Field(default=None, ge=1)  # a ticket's or replay's room

    _title = field_validator("title")(lambda v: None if v is None else _clean_title(v))


class ProductPublic(BaseModel):
    id: int
    host_id: int
    kind: ProductKind
    title: str
    description_html: str
    summary: str
    price: int
    list_price: int | None
    currency: str
    stock: int | None
    per_user_limit: int | None
    cover_url: str | None
    room_id: int | None
    membership_days: int | None
    is_active: bool


MAX_DRIP_DAYS = 3650
LINK_PATTERN = r"^https?://\S+$"


class LessonCreate(Input):
    title: str = Field(min_length=1, max_length=120)
    kind: LessonKind = LessonKind.TEXT
    body: str = Field(default="", max_length=50_000)
    media_url: WebUrl | None = Field(default=None, max_length=500)  # http(s) with a host: never //host/x
    position: int | None = Field(default=None, ge=0, le=10_000)
    release_after_days: int | None = Field(default=None, ge=0, le=MAX_DRIP_DAYS)

    _title = field_validator("title")(_clean_title)

    @model_validator(mode="after")
    def _link_needs_url(self) -> LessonCreate:
        if self.kind is LessonKind.LINK and not (self.media_url or "").startswith(("http://", "https://")):
            raise ValueError("a link lesson needs an http(s) address in media_url")
        return self


class LessonUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=120)
    body: str | None = Field(default=None, max_length=50_000)
    media_url: WebUrl | None = Field(default=None, max_length=500)
    release_after_days: int | None = Field(default=None, ge=0, le=MAX_DRIP_DAYS)

    _title = field_validator("title")(lambda v: None if v is None else _clean_title(v))


class LessonOrder(Input):
    """The course's lessons in their new order (every lesson id once)."""

    lesson_ids: list[int] = Field(min_length=1, max_length=1000)


class LessonPublic(BaseModel):
    id: int
    position: int
    title: str
    kind: LessonKind
    body_html: str
    media_url: str | None
    completed: bool
    release_after_days: int | None = None
    available_at: datetime | None = None  # for a buyer: when drip release opens it (None: open now)
    locked: bool = False


class SlotCreate(Input):
    starts_at: AwareDatetime
    minutes: int = Field(default=30, ge=5, le=480)


class SlotPublic(BaseModel):
    id: int
    starts_at: datetime
    minutes: int
    available: bool


class FilePublic(BaseModel):
    id: int
    filename: str
    size: int


class CourseView(BaseModel):
    product: ProductPublic
    lessons: list[LessonPublic]
    completed: int
    total: int
