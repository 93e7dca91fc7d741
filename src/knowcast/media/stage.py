"""A room's stage (连麦): up to three guests publishing camera and microphone over WebRTC beside the host.

Each guest is a ``GuestSession`` (a ``peer.PeerSession``, like a WHIP publisher, but authorised by a one-time
invite and feeding the stage instead of the Broadcast). While a guest is on, the host's pictures pass through
``Stage.compose`` and each block of their sound through ``Stage.mix`` before encoding (``program.ProgramEncoder``:
in the host's WHIP session, or for an RTMP host in ``program.RtmpStage``, which decodes the host's stream first),
so the program (HLS, recording, replay) shows host and guests in the host's chosen layout. The program keeps the
host's picture size: behind a WHIP host nothing downstream restarts when a guest comes or goes (an RTMP host's
program is cut where it switches between the publisher's stream and the composed one: see program.py).

Host and guests see each other directly: a guest's peer connection also carries the host's camera and
microphone back (``Feed``), and the host's console watches each guest over a recvonly connection (``StageView``).
Guests see and hear each other too: the guest page offers recvonly seats (``SlotTrack``, up to two pictures and
two sounds) that the stage fills with the other guests' feeds as they come and go, without renegotiation, and
tells the page who sits where over a data channel. A guest's own sound never comes back to them (mix-minus: each
sound is a track of its own, and a guest's seats only ever hold the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from aiortc import RTCBundlePolicy, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.video.frame import VideoFrame

from knowcast.errors import Conflict, NotFound, ValidationFailed
from knowcast.media.compose import Layout, compose, mix, rms
from knowcast.media.errors import MediaCode
from knowcast.media.feeds import Feed, FeedTrack, SlotTrack
from knowcast.media.peer import PeerSession
from knowcast.media.webrtc import close_peer, rtc_configuration
from knowcast.settings import Settings

log = logging.getLogger(__name__)
MAX_GUESTS = 3
SEATS = MAX_GUESTS - 1  # of each kind on a guest's connection: room for every other guest
RATE = 48_000
SOUND_BUFFER = RATE * 2 // 4  # a quarter of a second of interleaved stereo: older sound is dropped

Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


class GuestSound:
    """A guest's sound waiting to be mixed: written by the event loop, read by the host's encoder thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buffer = np.zeros(0, np.int16)
        self.resampler = AudioResampler(format="s16", layout="stereo", rate=RATE)
        self.level = 0.0

    def add(self, frame: AudioFrame) -> None:
        parts = [f.to_ndarray().reshape(-1) for f in self.resampler.resample(frame)]
        with self.lock:
            self.buffer = np.concatenate([self.buffer, *parts])[-SOUND_BUFFER:]

    def take(self, samples: int) -> np.ndarray:
        with self.lock:
            out, self.buffer = self.buffer[: samples * 2], self.buffer[samples * 2 :]
        return out


class StageView:
    """The host watching one guest: a recvonly peer connection fed from the guest's feeds."""

    def __init__(self, settings: Settings) -> None:
        self.id = secrets.token_urlsafe(16)
        self.pc = RTCPeerConnection(rtc_configuration(settings))
        self.sent: list[FeedTrack] = []

    async def answer(self, offer_sdp: str, feeds: list[Feed]) -> str:
        await _set_offer(self.pc, offer_sdp)
        offered = {transceiver.kind for transceiver in self.pc.getTransceivers()}
        if not offered:
            raise ValidationFailed("the offer asks for no video or audio", code=MediaCode.MEDIA_BAD_OFFER)
        for feed in feeds:
            if feed.kind in offered:  # a track the offer has no m-line for cannot be answered
                self.sent.append(feed.subscribe())
                self.pc.addTrack(self.sent[-1])
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def close(self) -> None:
        for track in self.sent:  # off the feed: a closed connection's queue must not keep pictures
            track.stop()
        await close_peer(self.pc)


async def _set_offer(pc: RTCPeerConnection, offer_sdp: str) -> None:
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    except ValueError as exc:
        raise ValidationFailed(f"the SDP offer is not valid: {exc}", code=MediaCode.MEDIA_BAD_OFFER) from exc


class GuestSession(PeerSession):
    """One guest on the stage: their peer connection, their latest picture and their sound for the program."""

    who = "guest"

    def __init__(self, stage: Stage, *, invite_id: int, name: str, user_id: int | None) -> None:
        self.id = secrets.token_urlsafe(16)
        self.stage = stage
        self.invite_id = invite_id
        self.name = name
        self.user_id = user_id
        config = rtc_configuration(stage.settings)
        # max-bundle: under aiortc's default (balanced) a second audio m-line keeps the first one's transport,
        # which BUNDLE then discards, and the seat's sound is never sent (seen with aiortc 1.x)
        config.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE
        super().__init__(config)
        self.video, self.audio = Feed("video"), Feed("audio")
        self.voice = Feed("audio")  # the sound the other guests hear: silence while the host mutes this guest
        self.seats: dict[str, list[SlotTrack]] = {"video": [], "audio": []}
        self.seated: list[GuestSession | None] = []
        self.channel: RTCDataChannel | None = None
        self.picture: VideoFrame | None = None
        self.sound = GuestSound()
        self.muted = False
        self.closed = False
        self.sent: list[FeedTrack] = []

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "user_id": self.user_id,
            "muted": self.muted,
            "level": round(self.sound.level, 1),
            "has_picture": self.picture is not None,
        }

    async def answer(self, offer_sdp: str) -> str:
        self.pc.on("datachannel", self._on_channel)
        await _set_offer(self.pc, offer_sdp)
        if not any(track.kind == "video" for track in self.tracks):
            raise ValidationFailed("the offer has no video track to receive", code=MediaCode.MEDIA_NO_VIDEO_OFFER)
        for transceiver in self.pc.getTransceivers():  # in the offer's order, which is the order of the page's seats
            sender = self._sender(transceiver.kind, transceiver.receiver.track in self.tracks)
            if sender is not None:
                self.sent.append(sender)
                self.pc.addTrack(sender)  # fills the first transceiver of its kind with nothing to send: this one
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.receive()
        return str(self.pc.localDescription.sdp)

    def _sender(self, kind: str, sending: bool) -> FeedTrack | None:
        """What goes back on a transceiver: the host's camera or microphone where the guest sends their own, a seat
        for another guest where the page only receives (beyond ``SEATS`` of a kind, nothing)."""
        if sending:
            return self.stage.host_feed(kind).subscribe()
        if len(self.seats[kind]) >= SEATS:
            return None
        self.seats[kind].append(SlotTrack(kind))
        return self.seats[kind][-1]

    def seat(self, others: list[GuestSession]) -> None:
        """Shows ``others`` (the other guests, in the order they joined) in this guest's seats and tells the page.
        A guest already seated keeps their seat; a newcomer takes the first free one."""
        count = max(len(self.seats["video"]), len(self.seats["audio"]))
        seated = [g if g in others else None for g in self.seated] + [None] * (count - len(self.seated))
        newcomers = [g for g in others if g not in seated]
        self.seated = [g if g is not None or not newcomers else newcomers.pop(0) for g in seated[:count]]
        for kind, seats in self.seats.items():
            for slot, other in zip(seats, self.seated, strict=False):
                feed = None if other is None else other.video if kind == "video" else other.voice
                if slot.feed is not feed:
                    slot.show(feed)
        self._tell()

    def _on_channel(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        channel.on("open", self._tell)
        self._tell()

    def _tell(self) -> None:
        """Who sits in which seat, for the page's labels (a seat's index is its place among the page's seats)."""
        if self.channel is None or self.channel.readyState != "open":
            return
        seats = [None if g is None else {"guest_id": g.id, "name": g.name, "muted": g.muted} for g in self.seated]
        self.channel.send(json.dumps({"type": "seats", "seats": seats}))

    def on_frame(self, frame: VideoFrame | AudioFrame) -> None:
        if isinstance(frame, VideoFrame):
            self.picture = frame
            self.video.put(frame)
        else:
            self.sound.add(frame)
            self.audio.put(frame)
            self.voice.put(_silent(frame) if self.muted else frame)

    async def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.stage.guests.pop(self.id, None)
        await self._stop_tasks()
        self.video.end()
        self.audio.end()
        self.voice.end()
        for track in self.sent:
            track.stop()
        await close_peer(self.pc)
        await self.stage.left(self, reason)


class Stage:
    """The stage of one room: its guests, its layout, and the host's feeds for the guests to watch."""

    def __init__(self, room_id: int, settings: Settings, publish: Publish) -> None:
        self.room_id = room_id
        self.settings = settings
        self.publish = publish
        self.layout = Layout.SIDE_BY_SIDE
        self.guests: dict[str, GuestSession] = {}
        self.views: dict[str, tuple[str, StageView]] = {}  # view id -> (guest id, view)
        self.host_video, self.host_audio = Feed("video"), Feed("audio")
        self.host_on_camera = False
        self.resampler = AudioResampler(format="s16", layout="stereo", rate=RATE)

    def host_feed(self, kind: str) -> Feed:
        return self.host_video if kind == "video" else self.host_audio

    def state(self) -> dict[str, Any]:
        guests = [guest.public() for guest in self.guests.values()]
        return {
            "room_id": self.room_id,
            "layout": self.layout.value,
            "host_on_camera": self.host_on_camera,
            "guests": guests,
        }

    # ---- guests --------------------------------------------------------------------------------------------

    async def join(self, offer_sdp: str, *, invite_id: int, name: str, user_id: int | None) -> GuestSession:
        if len(self.guests) >= MAX_GUESTS:
            raise Conflict(f"the stage already has {MAX_GUESTS} guests", code=MediaCode.MEDIA_STAGE_FULL)
        guest = GuestSession(self, invite_id=invite_id, name=name, user_id=user_id)
        self.guests[guest.id] = guest
        try:
            await guest.answer(offer_sdp)
        except BaseException:
            self.guests.pop(guest.id, None)
            await close_peer(guest.pc)
            raise
        return guest

    def rewire(self) -> None:
        """Each guest's seats show the other guests (called whenever who is on, or who is muted, changes)."""
        guests = list(self.guests.values())
        for guest in guests:
            guest.seat([other for other in guests if other is not guest])

    async def announce(self, guest: GuestSession) -> None:
        self.rewire()
        data = {"guest_id": guest.id, "name": guest.name, "user_id": guest.user_id}
        await self.publish("stage.guest_joined", data)
        log.info("guest joined the stage", extra={"room_id": self.room_id, "guest": guest.id[:8]})

    async def left(self, guest: GuestSession, reason: str) -> None:
        self.rewire()
        for view_id, (guest_id, view) in list(self.views.items()):
            if guest_id == guest.id:
                self.views.pop(view_id, None)
                await view.close()
        await self.publish("stage.guest_left", {"guest_id": guest.id, "reason": reason})
        log.info("guest left the stage", extra={"room_id": self.room_id, "guest": guest.id[:8], "reason": reason})

    def guest(self, guest_id: str) -> GuestSession:
        guest = self.guests.get(guest_id)
        if guest is None:
            raise NotFound("no such guest on this room's stage", code=MediaCode.MEDIA_NO_GUEST)
        return guest

    async def remove(self, guest_id: str, reason: str = "the host removed the guest") -> None:
        await self.guest(guest_id).close(reason)

    async def mute(self, guest_id: str, muted: bool) -> None:
        guest = self.guest(guest_id)
        if guest.muted != muted:
            guest.muted = muted
            self.rewire()
            await self.publish("stage.guest_muted", {"guest_id": guest.id, "muted": muted})

    async def set_layout(self, layout: Layout) -> None:
        if layout is not self.layout:
            self.layout = layout
            await self.publish("stage.layout_changed", {"layout": layout.value})

    async def watch(self, guest_id: str, offer_sdp: str) -> StageView:
        guest = self.guest(guest_id)
        view = StageView(self.settings)
        try:
            await view.answer(offer_sdp, [guest.video, guest.audio])
        except BaseException:
            await view.close()
            raise
        self.views[view.id] = (guest.id, view)
        return view

    async def unwatch(self, view_id: str) -> bool:
        entry = self.views.pop(view_id, None)
        if entry is not None:
            await entry[1].close()
        return entry is not None

    async def close(self, reason: str) -> None:
        await asyncio.gather(*(guest.close(reason) for guest in list(self.guests.values())))
        self.host_video.end()
        self.host_audio.end()

    # ---- the program (called from the host's encoder thread) ----------------------------------------------

    def compose(self, host: VideoFrame) -> VideoFrame:
        pictures = [guest.picture for guest in list(self.guests.values()) if guest.picture is not None]
        if not pictures:
            return host
        width, height = host.width - host.width % 2, host.height - host.height % 2
        return compose(self.layout, [host, *pictures], width, height)

    def mix(self, host: AudioFrame) -> AudioFrame:
        guests = list(self.guests.values())
        if not guests:
            return host
        frames = self._normalised(host)
        if not frames:
            return host
        base = frames[0] if len(frames) == 1 else _joined(frames)
        others = []
        for guest in guests:
            sound = guest.sound.take(base.samples)
            guest.sound.level = 0.0 if guest.muted else rms(sound)
            if not guest.muted:
                others.append(sound)
        return mix(base, others)

    def _normalised(self, frame: AudioFrame) -> list[AudioFrame]:
        if frame.format.name == "s16" and frame.layout.name == "stereo" and frame.sample_rate == RATE:
            return [frame]
        return list(self.resampler.resample(frame))


def _silent(frame: AudioFrame) -> AudioFrame:
    out = AudioFrame.from_ndarray(np.zeros_like(frame.to_ndarray()), format=frame.format.name, layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    return out


def _joined(frames: list[AudioFrame]) -> AudioFrame:
    array = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).reshape(1, -1)
    out = AudioFrame.from_ndarray(array, format="s16", layout="stereo")
    out.sample_rate = RATE
    return out


async def close_all(stages: dict[int, Stage], reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.gather(*(stage.close(reason) for stage in list(stages.values())))
