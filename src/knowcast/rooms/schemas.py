"""What crosses the edge for rooms."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from knowcast.rooms.states import AccessMode, RoomState
from knowcast.validation import Input

MAX_DESCRIPTION = 5000


def _clean_title(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


class RoomCreate(Input):
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    scheduled_at: AwareDatetime
    access_mode: AccessMode = AccessMode.PUBLIC

    _title = field_validator("title")(_clean_title)


class RoomUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    scheduled_at: AwareDatetime | None = None
    access_mode: AccessMode | None = None

    _title = field_validator("title")(lambda v: None if v is None else _clean_title(v))


class RoomTransition(Input):
    to: RoomState


class RoomPublic(BaseModel):
    """What anyone may see of a room."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    host_id: int
    title: str
    description: str
    cover_url: str | None
    scheduled_at: datetime
    state: RoomState
    access_mode: AccessMode
    started_at: datetime | None
    ended_at: datetime | None


class RoomPrivate(RoomPublic):
    """What the room's host sees, stream key included (None for an API token without ``rooms:stream_key``)."""

    stream_key: str | None
    ingest_url: str


class RoomList(BaseModel):
    live: list[RoomPublic]
    upcoming: list[RoomPublic]
    past: list[RoomPublic]


def cover_url(cover_path: str | None) -> str | None:
    return f"/uploads/covers/{cover_path}" if cover_path else None
