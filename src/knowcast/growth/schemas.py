"""What crosses the edge for growth: follows, reminders, notifications, run-of-show steps, FAQ entries,
embed sites."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowcast.db.types import MAX_ROW_ID
from knowcast.growth.models import FollowKind, StepKind, StepState
from knowcast.validation import Input

MAX_OFFSET = 24 * 3600


class FollowOut(BaseModel):
    kind: FollowKind
    host_id: int  # 0 for the channel
    following: bool
    followers: int


class ReminderOut(BaseModel):
    room_id: int
    booked: bool
    created: bool = False  # True only for the call that made the booking
    reminders: int  # bookings for this room in all


class ReminderCount(BaseModel):
    room_id: int
    reminders: int
    notified: int


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    room_id: int | None
    title: str
    url: str
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    unread: int
    items: list[NotificationOut]


class UnreadCount(BaseModel):
    unread: int


class StepIn(Input):
    kind: StepKind
    title: str = Field(min_length=1, max_length=120)
    talking_points: str = Field(default="", max_length=4000)
    params: dict[str, Any] = Field(default_factory=dict)
    planned_offset_seconds: int = Field(default=0, ge=0, le=MAX_OFFSET)  # after the stream starts
    auto: bool = False  # run by itself at its planned time (when it is the next step)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        return value


class StepMove(Input):
    position: int = Field(ge=0, le=10_000)


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    room_id: int
    position: int
    kind: StepKind
    title: str
    talking_points: str
    params: dict[str, Any]
    planned_offset_seconds: int
    planned_at: datetime | None  # start (or schedule) + offset
    auto: bool
    state: StepState
    started_at: datetime | None
    done_at: datetime | None
    delay_seconds: int | None  # actual − planned, once done
    run_by: str
    result: dict[str, Any] | None
    error_code: str | None


class ShowOut(BaseModel):
    room_id: int
    current: StepOut | None  # the last step carried out
    next: StepOut | None  # the first step still pending
    steps: list[StepOut]


class FaqIn(Input):
    keywords: list[str] = Field(max_length=20)
    answer: str = Field(min_length=1, max_length=500)
    room_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)  # None: every room of the host

    @field_validator("answer")
    @classmethod
    def _answer(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class FaqOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    host_id: int
    room_id: int | None
    keywords: list[str]
    answer: str
    replies: int


class EmbedSiteIn(Input):
    origin: str = Field(min_length=1, max_length=200)


class EmbedSiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    origin: str
