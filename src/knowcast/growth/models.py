"""Growth tables: follows, reminders, in-site notifications, the mail outbox, run-of-show steps, FAQ entries
and the sites allowed to embed rooms."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from knowcast.db.base import Base
from knowcast.db.types import UTCDateTime, utcnow


class FollowKind(enum.StrEnum):
    CHANNEL = "channel"  # the whole shop (host_id 0)
    HOST = "host"


class MailStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after mail_max_attempts
    DROPPED = "dropped"  # the person is gone (account deleted) or has no address


class StepKind(enum.StrEnum):
    SEGMENT = "segment"
    PIN = "pin"
    FLASH = "flash"
    COUPON = "coupon"
    POLL = "poll"
    DRAW = "draw"
    QA = "qa"


class StepState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Follow(Base):
    """A viewer follows the channel or one host. ``room_id`` is the room on air when they followed, if any."""

    __tablename__ = "growth_follows"
    __table_args__ = (UniqueConstraint("user_id", "kind", "host_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[FollowKind] = mapped_column(_enum(FollowKind))
    host_id: Mapped[int] = mapped_column(index=True, default=0)  # 0 for the channel
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reminder(Base):
    """A viewer's booking (预约) for an upcoming room; ``notified_at`` is set once when the room goes live."""

    __tablename__ = "growth_reminders"
    __table_args__ = (UniqueConstraint("room_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Notification(Base):
    """An in-site notification (the bell). One per person, kind and room: a second live start adds none."""

    __tablename__ = "growth_notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "room_id"),
        Index("ix_growth_notifications_unread", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # "room.live"
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), default=None)
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class MailJob(Base):
    """The durable mail outbox: one row per message, claimed with a lease, retried with backoff.

    The address is not stored: it is read from the account when the message is sent, so an erased account
    gets no mail and leaves no address behind.
    """

    __tablename__ = "growth_mail_jobs"
    __table_args__ = (UniqueConstraint("dedupe_key"), Index("ix_growth_mail_jobs_due", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(100))  # "live:<room>:<user>": queued once
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MailStatus] = mapped_column(_enum(MailStatus), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ShowStep(Base):
    """One step of a room's run-of-show (直播脚本), planned as minutes after the stream starts."""

    __tablename__ = "growth_show_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    kind: Mapped[StepKind] = mapped_column(_enum(StepKind))
    title: Mapped[str] = mapped_column(String(120))
    talking_points: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    planned_offset_seconds: Mapped[int] = mapped_column(default=0)
    auto: Mapped[bool] = mapped_column(default=False)
    state: Mapped[StepState] = mapped_column(_enum(StepState), default=StepState.PENDING)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    run_by: Mapped[str] = mapped_column(String(16), default="")  # "host" or "auto"
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FaqEntry(Base):
    """Keywords → an answer. ``room_id`` None: every room of the host (the shop-wide list)."""

    __tablename__ = "growth_faq_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True, default=None)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    answer: Mapped[str] = mapped_column(String(500))
    replies: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmbedSite(Base):
    """A site the owner allows to embed rooms in an iframe (a CSP ``frame-ancestors`` source)."""

    __tablename__ = "growth_embed_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
