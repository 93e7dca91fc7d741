"""Catalog tables: products and what hangs off them (lessons, progress, files, consultation slots)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from knowcast.catalog.kinds import LessonKind, ProductKind
from knowcast.db.base import Base, TimestampMixin
from knowcast.db.types import UTCDateTime, utcnow


def str_enum(cls: type[enum.StrEnum]) -> Enum:
    """A string column for an enum: new values need no migration (native_enum=False)."""
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Product(TimestampMixin, Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[ProductKind] = mapped_column(str_enum(ProductKind))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")  # markdown
    price: Mapped[int] = mapped_column(BigInteger)  # minor units (fen)
    list_price: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    stock: Mapped[int | None] = mapped_column(Integer, default=None)  # None: unlimited
    per_user_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    cover_path: Mapped[str | None] = mapped_column(String(128), default=None)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"), default=None, index=True)
    membership_days: Mapped[int | None] = mapped_column(Integer, default=None)
    is_active: Mapped[bool] = mapped_column(default=True)


class Lesson(Base):
    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[LessonKind] = mapped_column(str_enum(LessonKind), default=LessonKind.TEXT)
    body: Mapped[str] = mapped_column(Text, default="")  # markdown for text lessons
    media_url: Mapped[str | None] = mapped_column(String(500), default=None)
    # drip release: available this many days after the buyer's purchase (None: at once)
    release_after_days: Mapped[int | None] = mapped_column(Integer, default=None)


class LessonProgress(Base):
    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProductFile(Base):
    __tablename__ = "product_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    # set for a lesson's uploaded video or file; None for a file product's downloads
    lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), default=None, index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsultationSlot(Base):
    """One bookable time on the host's calendar; ``booked_by`` is set when a paid order takes it."""

    __tablename__ = "consultation_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(Integer, default=30)
    held_by_order: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    booked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
