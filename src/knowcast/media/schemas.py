"""What crosses the edge for the video plane."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from knowcast.rooms.states import RoomState


class StreamStatus(BaseModel):
    """What the player needs to know about a room's video right now."""

    room_id: int
    state: RoomState
    stream_url: str | None
    replay_url: str | None
    locked: str | None = None
    webrtc_url: str | None = None  # WHEP, when offered: tried first, HLS (stream_url) when refused
    webrtc_via: str | None = None  # "whep": webrtc_url takes an SDP offer; "janus": it gives a JanusTicket


class JanusTicket(BaseModel):
    """A viewer's way into a room's Janus videoroom (scaled mode): the HTTP API, the tokens, where to subscribe."""

    url: str  # Janus's HTTP API as browsers reach it
    token: str  # the core token: a Janus session and the videoroom plugin, for a short while
    room_token: str  # the join token of this videoroom
    room: int
    feed: int  # the program's publisher id in the videoroom
    ice_servers: list[dict[str, Any]]


class JanusStageTicket(BaseModel):
    """A stage participant's way into the room's stage videoroom (scaled mode): the others' feeds to subscribe."""

    url: str
    token: str
    room_token: str  # the join token of the stage videoroom (a viewer's ticket does not open it)
    room: int
    feeds: list[dict[str, Any]]  # {"display": "host" | "guest:<id>", "feed": <publisher id>}
    ice_servers: list[dict[str, Any]]


class TimelineItem(BaseModel):
    """Something that happened in the room, at a moment of its recording (for the replay's chat and chapters)."""

    at: datetime
    kind: str  # "chat" | "system" | "chapter"
    name: str | None = None
    user_id: int | None = None  # a chat line's author: their lines leave the replay when their account is deleted
    text: str
    data: dict[str, Any] = {}


class Replay(BaseModel):
    room_id: int
    title: str
    vod_url: str | None
    started_at: datetime | None
    duration_s: float
    items: list[TimelineItem]


class SrsHook(BaseModel):
    """SRS ``http_hooks`` body (on_publish / on_unpublish / on_play / on_stop ...), as its docs describe it."""

    model_config = ConfigDict(extra="allow")

    action: str
    client_id: str | int | None = None
    ip: str | None = None
    vhost: str | None = None
    app: str = ""
    stream: str = ""
    param: str = ""


class MediaMtxAuth(BaseModel):
    """MediaMTX ``authHTTPAddress`` body, as its docs describe it."""

    model_config = ConfigDict(extra="allow")

    user: str = ""
    password: str = ""
    token: str = ""
    ip: str = ""
    action: str
    path: str = ""
    protocol: str = ""
    id: str | None = None
    query: str = ""


class MediaMtxPath(BaseModel):
    path: str
