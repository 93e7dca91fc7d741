"""What crosses the edge for the stage (连麦): invitations, the stage's state, the host's controls."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from knowcast.media.compose import Layout
from knowcast.validation import Input


class InviteIn(Input):
    """``user_id``: one of the room's guests (RoomGuest); without it, a link for whoever the host gives it to."""

    user_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    name: str = Field(default="", max_length=64)


class InviteOut(BaseModel):
    invite_id: int
    room_id: int
    name: str
    user_id: int | None
    token: str
    url: str
    expires_at: datetime


class LayoutIn(Input):
    layout: Layout


class MuteIn(Input):
    muted: bool


class StageGuest(BaseModel):
    id: str
    name: str
    user_id: int | None
    muted: bool
    level: float  # RMS of the guest's sound in the program's last mixed block (0 when muted)
    has_picture: bool


class StageOut(BaseModel):
    room_id: int
    layout: Layout
    host_on_camera: bool
    max_guests: int
    guests: list[StageGuest]
