"""The room table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from knowcast.db.base import Base, TimestampMixin
from knowcast.db.types import UTCDateTime
from knowcast.rooms.states import AccessMode, RoomState


def _enum(cls: type[RoomState] | type[AccessMode]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Room(TimestampMixin, Base):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    cover_path: Mapped[str | None] = mapped_column(String(128), default=None)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[RoomState] = mapped_column(_enum(RoomState), default=RoomState.SCHEDULED, index=True)
    access_mode: Mapped[AccessMode] = mapped_column(_enum(AccessMode), default=AccessMode.PUBLIC)
    stream_key: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
