"""Janus scaled mode: each live room's program is published ONCE into a Janus videoroom, and Janus fans it out.

When a room goes live in this process (its publisher's Broadcast is here), ``JanusProgram`` creates the room's
videoroom (``signed_tokens``: only holders of a Knowcast-issued room token join; a secret of its own, derived
from ours, to destroy it), joins it as the publisher "program" and sends the ``ProgramFeed`` tracks from an
aiortc peer connection: one decode and one encode whatever the audience. When the room ends the videoroom is
destroyed. Viewers ask Knowcast for a ticket (``ticket()``): the Janus URL, their own short-lived tokens, the
videoroom and the program's feed; their browsers then subscribe with Janus directly.

The videoroom's number and secret derive from the room id and ``KNOWCAST_SECRET_KEY``, so every Knowcast
process finds the same videoroom (a ticket asked of another process than the publisher's) and a videoroom left
behind by a killed process is destroyed and made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from knowcast.bus import Event
from knowcast.errors import NotFound
from knowcast.media.errors import MediaCode
from knowcast.media.janus import (
    JanusClient,
    JanusHandle,
    JanusRefused,
    JanusSession,
    JanusUnreachable,
    core_token,
    room_token,
)
from knowcast.media.supervisor import MediaPlane
from knowcast.media.webrtc import close_peer, rtc_configuration
from knowcast.media.whep import ProgramFeed
from knowcast.settings import Settings

log = logging.getLogger(__name__)
PROGRAM = "program"  # the publisher's display name in its videoroom
ROOM_EXISTS = 427  # JANUS_VIDEOROOM_ERROR_ROOM_EXISTS
NO_SUCH_ROOM = 426  # JANUS_VIDEOROOM_ERROR_NO_SUCH_ROOM
SERVICE_TTL = 300.0  # seconds: the tokens Knowcast's own requests carry
RETRY_SECONDS = 2.0  # a program Janus dropped (or refused) is published again this long after, while live,
RETRY_MAX_SECONDS = 30.0  # doubling while Janus keeps failing


@dataclass(frozen=True)
class Ticket:
    """What a viewer's browser needs to watch a room through Janus."""

    url: str
    token: str
    room_token: str
    room: int
    feed: int


def videoroom_of(secret_key: str, room_id: int, label: str = "janus-room") -> tuple[int, str]:
    """The room's videoroom number (below 2**53, a JSON-safe integer) and that videoroom's secret (``label``
    "janus-stage" names the room's stage videoroom, another one)."""
    digest = hmac.new(secret_key.encode(), f"{label}:{room_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:6], "big") + 1, digest[6:30].hex()


async def publish_tracks(
    handle: JanusHandle, pc: RTCPeerConnection, janus_room: int, display: str, token: str, tracks: list[Any]
) -> int:
    """Join the videoroom as the publisher ``display`` and send ``tracks`` from ``pc`` (sendonly); its feed id."""
    joined = await handle.message(
        {"request": "join", "ptype": "publisher", "room": janus_room, "display": display, "token": token}
    )
    for track in tracks:
        pc.addTransceiver(track, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())  # aiortc: every candidate is in it
    offer = {"type": "offer", "sdp": pc.localDescription.sdp}
    answer = await handle.message({"request": "publish", "audio": True, "video": True}, jsep=offer)
    if answer.jsep is None:
        raise JanusRefused(0, f"the videoroom sent no SDP answer to {display}'s offer")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.jsep["sdp"], type="answer"))
    return int(joined.data["id"])


async def make_room(handle: JanusHandle, create: dict[str, Any]) -> None:
    """Create a videoroom; one of that number left by a process that did not end it is destroyed and made again."""
    try:
        await handle.message(create)
    except JanusRefused as exc:
        if exc.janus_code != ROOM_EXISTS:
            raise
        await destroy_room(handle, create["room"], create["secret"])
        await handle.message(create)


async def destroy_room(handle: JanusHandle, janus_room: int, secret: str) -> None:
    with contextlib.suppress(JanusRefused):
        await handle.message({"request": "destroy", "room": janus_room, "secret": secret})


class Publication:
    """One room's program in its videoroom: a Janus session, a publisher handle and an aiortc sender."""

    def __init__(self, program: JanusProgram, room_id: int, feed: ProgramFeed) -> None:
        self.program = program
        self.room_id = room_id
        self.feed = feed
        self.janus_room, self.secret = videoroom_of(program.settings.secret_key, room_id)
        self.session: JanusSession | None = None
        self.pc = RTCPeerConnection(rtc_configuration(program.settings))
        self.feed_id: int | None = None
        self.starting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        settings = self.program.settings
        self.session = await self.program.client.session()
        handle = await self.session.attach()
        await self._create_room(handle)
        token = room_token(settings.janus_token_secret, self.janus_room, SERVICE_TTL)
        self.feed_id = await publish_tracks(handle, self.pc, self.janus_room, PROGRAM, token, self.feed.tracks())
        log.info("program published into janus", extra={"room_id": self.room_id, "janus_room": self.janus_room})

    async def lost(self) -> str:
        """Wait until Janus drops this publication (its session lost: Janus restarted or unreachable; the peer
        connection hung up; the videoroom destroyed by someone else) and say how."""
        assert self.session is not None
        while True:
            event = await self.session.events.get()
            kind = event.get("janus")
            data = event.get("plugindata", {}).get("data", {})
            if kind in ("lost", "hangup") or data.get("videoroom") == "destroyed":
                return str(event.get("reason") or kind if kind != "event" else "videoroom destroyed")

    async def _create_room(self, handle: JanusHandle) -> None:
        settings = self.program.settings
        create = {
            "request": "create",
            "admin_key": settings.janus_admin_key,
            "room": self.janus_room,
            "description": f"knowcast room {self.room_id}",
            "secret": self.secret,
            "signed_tokens": True,
            "is_private": True,
            "publishers": 1,
            "videocodec": "vp8,h264",
            "audiocodec": "opus",
        }
        await make_room(handle, create)

    async def stop(self) -> None:
        if self.starting is not None and self.starting is not asyncio.current_task():
            self.starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.starting
        if self.session is not None and not self.session.closed:
            with contextlib.suppress(JanusUnreachable, JanusRefused):
                await destroy_room(await self.session.attach(), self.janus_room, self.secret)
            await self.session.destroy()
        await close_peer(self.pc)
        await self.feed.close()


class JanusProgram:
    """This process's publications into Janus and the viewers' tickets (a Component)."""

    def __init__(self, plane: MediaPlane, settings: Settings) -> None:
        self.plane = plane
        self.settings = settings
        self.client = JanusClient(settings.janus_url, lambda: core_token(settings.janus_token_secret, SERVICE_TTL))
        self.publications: dict[int, Publication] = {}
        self.control: JanusHandle | None = None  # for the tickets' look-ups
        self.lock = asyncio.Lock()
        self.retries: set[asyncio.Task[None]] = set()
        self.failures: dict[int, int] = {}  # a room's failed publications in a row

    async def start(self) -> None:
        self.plane.ctx.bus.subscribe("room.live", self._on_live)
        self.plane.ctx.bus.subscribe("room.ended", self._on_ended)

    async def stop(self) -> None:
        for task in list(self.retries):
            task.cancel()
        await asyncio.gather(*self.retries, return_exceptions=True)
        for room_id in list(self.publications):
            await self.unpublish(room_id)
        if self.control is not None:
            await self.control.session.destroy()
        await self.client.close()

    async def _on_live(self, event: Event) -> None:
        room_id = int(event.data["room_id"])
        if self._publishable(room_id):
            await self.publish(room_id)

    def _publishable(self, room_id: int) -> bool:
        """Not published yet, and its publisher is here (not another process's; the room not ended)."""
        broadcast = self.plane.broadcasts.get(room_id)
        return broadcast is not None and broadcast.link is not None and room_id not in self.publications

    async def _on_ended(self, event: Event) -> None:
        await self.unpublish(int(event.data["room_id"]))

    async def publish(self, room_id: int) -> None:
        """Start publishing the room's program into its videoroom, in the background (the bus handler that calls
        this runs on the publisher's path). A failure, or Janus dropping it later (restarted, unreachable), is
        logged and published again after RETRY_SECONDS, doubling up to RETRY_MAX_SECONDS, for as long as the
        room is live here; viewers meanwhile play HLS."""
        publication = Publication(self, room_id, ProgramFeed(self.plane.broadcasts[room_id]))
        self.publications[room_id] = publication
        publication.starting = asyncio.ensure_future(self._start(publication))

    async def _start(self, publication: Publication) -> None:
        room_id = publication.room_id
        try:
            await publication.start()
            self.failures.pop(room_id, None)
            how = await publication.lost()
            log.warning("janus dropped the program; publishing again", extra={"room_id": room_id, "reason": how})
        except (JanusUnreachable, JanusRefused, ValueError) as exc:
            log.warning("could not publish the program into janus", extra={"room_id": room_id, "error": str(exc)})
        if self.publications.get(room_id) is publication:
            del self.publications[room_id]
            publication.starting = None  # this task: stop() must not cancel it
            await publication.stop()
            self._retry(room_id)

    def _retry(self, room_id: int) -> None:
        failures = self.failures[room_id] = self.failures.get(room_id, 0) + 1

        async def later() -> None:
            await asyncio.sleep(min(RETRY_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS))
            if self._publishable(room_id):
                await self.publish(room_id)
            else:
                self.failures.pop(room_id, None)

        task = asyncio.ensure_future(later())
        self.retries.add(task)
        task.add_done_callback(self.retries.discard)

    async def unpublish(self, room_id: int) -> None:
        publication = self.publications.pop(room_id, None)
        if publication is not None:
            await publication.stop()

    async def ticket(self, room_id: int) -> Ticket:
        """A viewer's way into the room's videoroom; 404 ``media.not_publishing`` unless the program is in it."""
        janus_room, _ = videoroom_of(self.settings.secret_key, room_id)
        feed = await self._program_feed(janus_room)
        if feed is None:
            raise NotFound("this room's program is not on the WebRTC gateway now", code=MediaCode.MEDIA_NOT_PUBLISHING)
        secret, ttl = self.settings.janus_token_secret, self.settings.janus_token_ttl_seconds
        return Ticket(
            url=self.settings.janus_public_url or self.settings.janus_url,
            token=core_token(secret, ttl),
            room_token=room_token(secret, janus_room, ttl),
            room=janus_room,
            feed=feed,
        )

    async def _program_feed(self, janus_room: int) -> int | None:
        """The program publisher's feed id in the videoroom, asked of Janus (any process may have published)."""
        for attempt in (1, 2):  # a control session lost (Janus restarted) is made again once
            handle = await self._control()
            try:
                answer = await handle.message({"request": "listparticipants", "room": janus_room})
            except JanusRefused as exc:
                if exc.janus_code == NO_SUCH_ROOM:
                    return None
                raise
            except JanusUnreachable:
                self.control = None
                if attempt == 2:
                    raise
                continue
            return _publisher_id(answer.data)
        return None

    async def _control(self) -> JanusHandle:
        async with self.lock:
            if self.control is None or self.control.session.closed:
                session = await self.client.session()
                self.control = await session.attach()
            return self.control


def _publisher_id(data: dict[str, Any]) -> int | None:
    for participant in data.get("participants", []):
        if participant.get("display") == PROGRAM and participant.get("publisher"):
            return int(participant["id"])
    return None
