"""The media plane (a Component): one Broadcast per room, the publish decision, and room state upkeep.

Embedded ingest: the RTMP gate asks ``begin()`` whether a key may publish. External media servers: the hook
routes call ``external_started()`` / ``external_stopped()``. Either way a dropped publisher puts a live room in
"reconnecting" for a grace period and then ends it, so no room stays "live" with nothing behind it, including
after a server restart (``start()`` picks up rooms left on air).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.errors import KnowcastError
from knowcast.media import service
from knowcast.media.broadcast import Broadcast, PublisherSession, Relay
from knowcast.media.errors import MediaCode
from knowcast.media.health import HealthReport
from knowcast.media.ladder import Rung, parse_ladder
from knowcast.media.rtmp_gate import Link, PublishRefused, PublishRequest
from knowcast.media.storage import MediaStore
from knowcast.rooms.states import RoomState

log = logging.getLogger(__name__)
MB = 1024 * 1024
DISK_FLOOR = 256 * 1024  # below this, whatever the setting, the next segments will not fit
RTMP_APPS = frozenset({"live"})


class MediaPlane:
    def __init__(self, ctx: AppContext, store: MediaStore, ffmpeg: str) -> None:
        settings = ctx.settings
        self.ctx = ctx
        self.store = store
        self.ffmpeg = ffmpeg
        self.segment_seconds = settings.media_segment_seconds
        self.grace_seconds = settings.media_reconnect_grace_seconds
        self.min_free_bytes = settings.media_min_free_mb * MB
        self.rungs: list[Rung] = parse_ladder(settings.media_ladder)
        self.broadcasts: dict[int, Broadcast] = {}
        self._subscribed = False
        # what stands between a new publisher and its Broadcast (WhipIngest sets it: an RTMP host's 连麦 stage)
        self.relays: Callable[[Broadcast, Link], Relay | None] | None = None

    # ---- Component ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.store.root.mkdir(parents=True, exist_ok=True)
        if not self._subscribed:
            self.ctx.bus.subscribe("room.ended", self._on_room_ended)
            self.ctx.bus.subscribe("room.stream_key_rotated", self._on_key_rotated)
            self._subscribed = True
        for room_id, state in await service.rooms_on_air(self.ctx):
            if not self.store.has_media(room_id):
                continue  # a room put live by hand without video: the host's to end
            if state is RoomState.LIVE:
                await service.move_room(self.ctx, room_id, RoomState.RECONNECTING, only_from=frozenset({state}))
            self._broadcast(room_id).start_grace(self.grace_seconds, self._grace_expired)

    async def stop(self) -> None:
        for broadcast in list(self.broadcasts.values()):
            was_publishing = broadcast.link is not None
            await broadcast.close("the server is restarting; reconnect in a moment")
            if was_publishing:
                await self._move(broadcast.room_id, RoomState.RECONNECTING, RoomState.LIVE)
        self.broadcasts.clear()

    # ---- embedded ingest (the gate's Publishers) ------------------------------------------------------------

    async def begin(self, request: PublishRequest, link: Link) -> PublisherSession:
        if request.app not in RTMP_APPS:
            raise PublishRefused(MediaCode.MEDIA_WRONG_APP, "publish to rtmp://<server>/live with your stream key")
        return await self.admit(request.stream_key, request.peer, link)

    async def admit(self, stream_key: str, peer: str, link: Link, room_id: int | None = None) -> PublisherSession:
        """Any embedded publisher (RTMP, WHIP): the key's room, unless it is not ``room_id``, ended or busy."""
        try:
            async with self.ctx.db.session() as session:
                room = await service.publishable_room(session, stream_key)
        except KnowcastError as error:
            raise PublishRefused(error.code, error.message) from error
        if room_id is not None and room.id != room_id:
            raise PublishRefused(MediaCode.MEDIA_WRONG_KEY, "this stream key is not valid for that room")
        broadcast = self._broadcast(room.id)
        if broadcast.link is not None:
            broadcast.problem(MediaCode.MEDIA_SECOND_PUBLISHER, f"a second encoder ({peer}) was refused")
            raise PublishRefused(MediaCode.MEDIA_ALREADY_PUBLISHING, "this room already has an encoder publishing")
        if self.disk_full(room.id):
            broadcast.problem(MediaCode.MEDIA_DISK_FULL, "the server's media disk is full; free space to go live")
            raise PublishRefused(MediaCode.MEDIA_DISK_FULL, "the server's media disk is full")
        log.info("publisher accepted", extra={"room_id": room.id, "peer": peer})
        return broadcast.attach(link)

    def relay_for(self, broadcast: Broadcast, link: Link) -> Relay | None:
        return self.relays(broadcast, link) if self.relays is not None else None

    def disk_full(self, room_id: int) -> bool:
        try:
            return self.store.free_bytes(room_id) < max(self.min_free_bytes, DISK_FLOOR)
        except OSError:
            return True

    async def segment_ready(self, broadcast: Broadcast) -> None:
        broadcast.cancel_grace()
        await self._move(broadcast.room_id, RoomState.LIVE, RoomState.SCHEDULED, RoomState.RECONNECTING)

    async def publisher_gone(self, broadcast: Broadcast) -> None:
        state = await service.room_state(self.ctx, broadcast.room_id)
        if state is RoomState.LIVE and self.store.segment_count(broadcast.room_id) > 0:
            await self._move(broadcast.room_id, RoomState.RECONNECTING, RoomState.LIVE)
            broadcast.start_grace(self.grace_seconds, self._grace_expired)
        elif state is RoomState.RECONNECTING and broadcast.grace is None:
            broadcast.start_grace(self.grace_seconds, self._grace_expired)

    # ---- external media servers -------------------------------------------------------------------------------

    async def external_started(self, room_id: int) -> None:
        broadcast = self._broadcast(room_id)
        broadcast.went_live = True
        broadcast.cancel_grace()
        await self._move(room_id, RoomState.LIVE, RoomState.SCHEDULED, RoomState.RECONNECTING)

    async def external_stopped(self, room_id: int) -> None:
        broadcast = self._broadcast(room_id)
        broadcast.went_live = False
        if await self._move(room_id, RoomState.RECONNECTING, RoomState.LIVE):
            broadcast.start_grace(self.grace_seconds, self._grace_expired)

    # ---- shared --------------------------------------------------------------------------------------------

    def health(self, room_id: int) -> HealthReport:
        broadcast = self.broadcasts.get(room_id)
        return broadcast.report() if broadcast else HealthReport(publishing=False)

    def _broadcast(self, room_id: int) -> Broadcast:
        if room_id not in self.broadcasts:
            self.broadcasts[room_id] = Broadcast(room_id, self)
        return self.broadcasts[room_id]

    async def _move(self, room_id: int, target: RoomState, *sources: RoomState) -> bool:
        return await service.move_room(self.ctx, room_id, target, only_from=frozenset(sources))

    async def _grace_expired(self, broadcast: Broadcast) -> None:
        log.info("reconnect grace over; ending the room", extra={"room_id": broadcast.room_id})
        await self._move(broadcast.room_id, RoomState.ENDED, RoomState.RECONNECTING)

    async def _on_room_ended(self, event: Event) -> None:
        room_id = int(event.data["room_id"])
        broadcast = self.broadcasts.pop(room_id, None)
        if broadcast is not None:
            if asyncio.current_task() is broadcast.grace:
                broadcast.grace = None  # we are running inside the timer: do not cancel ourselves
            await broadcast.close("the room has ended")
        await asyncio.to_thread(self.store.finalize, room_id)

    async def _on_key_rotated(self, event: Event) -> None:
        broadcast = self.broadcasts.get(int(event.data["room_id"]))
        if broadcast is not None and broadcast.link is not None:
            broadcast.kick(MediaCode.MEDIA_KEY_ROTATED, "the stream key was rotated; publish with the new key")
