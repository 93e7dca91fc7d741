"""A WebRTC publisher that aiortc receives in this process: the host over WHIP (``whip.WhipSession``) or a 连麦
guest (``stage.GuestSession``). What they share: each incoming track read by a task of the session until the
track ends or its pictures stop, the connection's failure, and ending the session from anywhere (``kick``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from knowcast.media.webrtc import CLOSE_PATIENCE

IDLE_TIMEOUT = 20.0  # no picture for this long ends the session (and bounds an offer whose ICE never connects)

Frame = VideoFrame | AudioFrame


class PeerSession:
    """One publisher's peer connection and the tasks reading it. Subclasses say what a frame is for
    (``on_frame``) and how the session ends (``close``)."""

    who = "publisher"  # in the reason given when a track ends

    def __init__(self, config: RTCConfiguration) -> None:
        self.pc = RTCPeerConnection(config)
        self.tracks: list[MediaStreamTrack] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing: asyncio.Task[None] | None = None
        self.pc.on("track", self.tracks.append)
        self.pc.on("connectionstatechange", self._on_state)

    def on_frame(self, frame: Frame) -> None:
        raise NotImplementedError

    async def close(self, reason: str) -> None:
        raise NotImplementedError

    def kick(self, reason: str) -> None:
        if self.closing is None:
            self.closing = asyncio.ensure_future(self.close(reason))

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self.kick(f"WebRTC connection {self.pc.connectionState}")

    def receive(self) -> None:
        """Starts reading every track the offer brought."""
        for track in self.tracks:
            self._run(self._receive(track))

    async def _receive(self, track: MediaStreamTrack) -> None:
        timeout = IDLE_TIMEOUT if track.kind == "video" else None
        try:
            while True:
                # asyncio.timeout, not wait_for: 3.11's wait_for runs recv() as a task of its own, and a cancel
                # that meets a frame arriving can leave that task and this one waiting forever (seen: a session's
                # close waited on this loop, cancelled, for good)
                async with asyncio.timeout(timeout):
                    frame = await track.recv()
                if isinstance(frame, VideoFrame | AudioFrame):
                    self.on_frame(frame)
        except MediaStreamError:
            self.kick(f"the {self.who}'s track ended")
        except TimeoutError:
            self.kick(f"no picture for {IDLE_TIMEOUT:g} s")

    def _run(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _stop_tasks(self) -> None:
        """Cancels the session's tasks but the caller's own (a track's reader may be the one closing), waiting a
        bounded time: a task that does not end when cancelled must not hold the session's end."""
        current = asyncio.current_task()
        others = [task for task in self.tasks if task is not current]
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others, timeout=CLOSE_PATIENCE)
