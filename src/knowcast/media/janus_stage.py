"""Janus scaled mode for the stage (连麦): each participant's live feed is published ONCE into the room's stage
videoroom, and the host and the guests watch each other there instead of through an encode per watcher here.

Guests keep publishing to Knowcast (the program's composition, HLS and the replay need their frames; mute,
removal and invitations are unchanged). When the first guest comes on, the room's *stage* videoroom is made (a
videoroom of its own, not the program's: a viewer's ticket, a token for the program's videoroom, does not open
it) and the host's camera and microphone are published into it as ``host``; each guest is published as
``guest:<id>`` (their picture, and their voice: silence while the host mutes them) and unpublished when they
leave; when the last one leaves the videoroom is destroyed. Stage tickets (``ticket()``) go only to the room's
host (the console, ``POST /api/v1/media/rooms/{id}/stage/ticket``) and to a guest on the stage (``POST
/whip/stage/{guest id}/ticket``, the guest session's id being its credential as for leaving).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection

from knowcast.bus import Event
from knowcast.errors import NotFound
from knowcast.media.errors import MediaCode
from knowcast.media.feeds import Feed, FeedTrack
from knowcast.media.janus import JanusRefused, JanusSession, JanusUnreachable, core_token, room_token
from knowcast.media.janus_program import (
    NO_SUCH_ROOM,
    SERVICE_TTL,
    JanusProgram,
    destroy_room,
    make_room,
    publish_tracks,
    videoroom_of,
)
from knowcast.media.stage import MAX_GUESTS, Stage
from knowcast.media.webrtc import close_peer, rtc_configuration

log = logging.getLogger(__name__)
HOST = "host"  # the host's display name in the stage videoroom; a guest's is "guest:<guest id>"
STAGE = "janus-stage"  # the label the stage videoroom's number and secret derive from


@dataclass(frozen=True)
class StageTicket:
    """What a participant's page needs to watch the others through Janus."""

    url: str
    token: str
    room_token: str
    room: int
    feeds: list[dict[str, Any]]  # {"display": "host" | "guest:<id>", "feed": <publisher id>}


class Participant:
    """One participant's video and audio feeds published into the stage videoroom (one encode for all watchers)."""

    def __init__(self, stage: JanusStage, display: str, video: Feed, audio: Feed) -> None:
        self.stage = stage
        self.display = display
        self.tracks: list[FeedTrack] = [video.subscribe(), audio.subscribe()]
        self.pc = RTCPeerConnection(rtc_configuration(stage.program.settings))
        self.session: JanusSession | None = None
        self.feed_id: int | None = None

    async def start(self, janus_room: int) -> None:
        settings = self.stage.program.settings
        self.session = await self.stage.program.client.session()
        handle = await self.session.attach()
        token = room_token(settings.janus_token_secret, janus_room, SERVICE_TTL)
        self.feed_id = await publish_tracks(handle, self.pc, janus_room, self.display, token, list(self.tracks))

    async def stop(self) -> None:
        for track in self.tracks:
            track.stop()
        if self.session is not None and not self.session.closed:
            with contextlib.suppress(JanusUnreachable, JanusRefused):
                await self.session.destroy()
        await close_peer(self.pc)


class RoomStage:
    """One room's stage in Janus: its videoroom and its participants' publications."""

    def __init__(self, janus_room: int, secret: str) -> None:
        self.janus_room = janus_room
        self.secret = secret
        self.participants: dict[str, Participant] = {}  # display -> publication
        self.lock = asyncio.Lock()


class JanusStage:
    """The stages of this process's rooms, published into Janus while they have guests (a Component)."""

    def __init__(self, program: JanusProgram, stages: dict[int, Stage]) -> None:
        self.program = program
        self.stages = stages  # the embedded ingest's stages, by room id
        self.rooms: dict[int, RoomStage] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        bus = self.program.plane.ctx.bus
        bus.subscribe("stage.guest_joined", self._on_joined)
        bus.subscribe("stage.guest_left", self._on_left)
        bus.subscribe("room.ended", self._on_ended)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for room_id in list(self.rooms):
            await self.close(room_id)

    def _room(self, room_id: int) -> RoomStage:
        room = self.rooms.get(room_id)
        if room is None:
            janus_room, secret = videoroom_of(self.program.settings.secret_key, room_id, STAGE)
            room = self.rooms[room_id] = RoomStage(janus_room, secret)
        return room

    def _spawn(self, work: Any) -> None:
        """In the background, in order (the room's lock): the bus handler runs on the guest's join or leave."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _on_joined(self, event: Event) -> None:
        self._spawn(self._join(int(event.data["room_id"]), str(event.data["guest_id"])))

    async def _join(self, room_id: int, guest_id: str) -> None:
        stage = self.stages.get(room_id)
        guest = None if stage is None else stage.guests.get(guest_id)
        if stage is None or guest is None:
            return  # another process's stage, or the guest gone already
        room = self._room(room_id)
        async with room.lock:
            try:
                if not room.participants:
                    await self._make_room(room)
                if HOST not in room.participants:
                    await self._add(room, Participant(self, HOST, stage.host_video, stage.host_audio))
                if not guest.closed:
                    await self._add(room, Participant(self, f"guest:{guest.id}", guest.video, guest.voice))
            except (JanusUnreachable, JanusRefused, ValueError) as exc:
                log.warning("could not publish the stage into janus", extra={"room_id": room_id, "error": str(exc)})

    async def _add(self, room: RoomStage, participant: Participant) -> None:
        room.participants[participant.display] = participant
        try:
            await participant.start(room.janus_room)
        except BaseException:
            room.participants.pop(participant.display, None)
            await participant.stop()
            raise

    async def _make_room(self, room: RoomStage) -> None:
        settings = self.program.settings
        handle = await self.program._control()
        create = {
            "request": "create",
            "admin_key": settings.janus_admin_key,
            "room": room.janus_room,
            "description": "knowcast stage",
            "secret": room.secret,
            "signed_tokens": True,
            "is_private": True,
            "publishers": MAX_GUESTS + 1,
            "videocodec": "vp8,h264",
            "audiocodec": "opus",
        }
        await make_room(handle, create)

    async def _on_left(self, event: Event) -> None:
        self._spawn(self._leave(int(event.data["room_id"]), str(event.data["guest_id"])))

    async def _leave(self, room_id: int, guest_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        async with room.lock:
            participant = room.participants.pop(f"guest:{guest_id}", None)
            if participant is not None:
                await participant.stop()
            if not any(display != HOST for display in room.participants):
                await self._close(room_id, room)

    async def _on_ended(self, event: Event) -> None:
        await self.close(int(event.data["room_id"]))

    async def close(self, room_id: int) -> None:
        room = self.rooms.get(room_id)
        if room is not None:
            async with room.lock:
                await self._close(room_id, room)

    async def _close(self, room_id: int, room: RoomStage) -> None:
        for participant in list(room.participants.values()):
            await participant.stop()
        room.participants.clear()
        self.rooms.pop(room_id, None)
        with contextlib.suppress(JanusUnreachable, JanusRefused):
            await destroy_room(await self.program._control(), room.janus_room, room.secret)

    async def ticket(self, room_id: int) -> StageTicket:
        """A participant's way into the stage videoroom; 404 ``media.not_publishing`` while it has no guest."""
        janus_room, _ = videoroom_of(self.program.settings.secret_key, room_id, STAGE)
        handle = await self.program._control()
        try:
            answer = await handle.message({"request": "listparticipants", "room": janus_room})
        except JanusRefused as exc:
            if exc.janus_code != NO_SUCH_ROOM:
                raise
            answer = None
        feeds = [] if answer is None else _feeds(answer.data)
        if not feeds:
            raise NotFound("this room's stage is not on the WebRTC gateway now", code=MediaCode.MEDIA_NOT_PUBLISHING)
        settings = self.program.settings
        secret, ttl = settings.janus_token_secret, settings.janus_token_ttl_seconds
        return StageTicket(
            url=settings.janus_public_url or settings.janus_url,
            token=core_token(secret, ttl),
            room_token=room_token(secret, janus_room, ttl),
            room=janus_room,
            feeds=feeds,
        )


def _feeds(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"display": str(p.get("display")), "feed": int(p["id"])}
        for p in data.get("participants", [])
        if p.get("publisher")
    ]
