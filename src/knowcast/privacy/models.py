"""Consent records, the daily visitor salts, and the audit log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from knowcast.db.base import Base
from knowcast.db.types import UTCDateTime, utcnow


class ConsentRecord(Base):
    """Every change of a visitor's analytics consent, with where it came from."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    visitor_id: Mapped[str] = mapped_column(String(40), index=True)
    analytics: Mapped[bool]
    source: Mapped[str] = mapped_column(String(16))  # banner, account, gpc, dnt
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VisitorSalt(Base):
    """The site-wide salt of one UTC day for cookieless visitor ids; deleted after 48 hours."""

    __tablename__ = "visitor_salts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """Who did what: admin actions, role changes, exports, deletions, refunds."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
