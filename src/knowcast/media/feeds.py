"""Fan-out of a stage participant's live frames to whoever watches them over WebRTC (host ↔ guest).

A ``Feed`` holds one participant's track of one kind; each ``FeedTrack`` (one per watching peer connection) keeps
a short queue of its own, so a slow watcher drops its oldest frames and never holds the others back. Frames are
copied and stamped by the watching track (its own clock), so the publisher's frame objects, which the program's
encoder stamps too, are never shared across threads or peers.

A ``SlotTrack`` is a watcher's seat that can be given to any participant's feed, or to nobody, while its peer
connection goes on: a guest's page offers a few of them so the other guests can come and go without
renegotiating.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

VIDEO_CLOCK = fractions.Fraction(1, 90_000)
QUEUE = {"video": 2, "audio": 10}  # under a second behind, whatever the watcher's pace

Frame = VideoFrame | AudioFrame


class Feed:
    """One participant's frames of one kind, offered to any number of watching tracks."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.tracks: set[FeedTrack] = set()

    def put(self, frame: Frame) -> None:
        for track in list(self.tracks):
            track.push(frame)

    def subscribe(self) -> FeedTrack:
        track = FeedTrack(self)
        self.tracks.add(track)
        return track

    def end(self) -> None:
        for track in list(self.tracks):
            track.push(None)
        self.tracks.clear()


class FeedTrack(MediaStreamTrack):
    """What one watcher's peer connection sends: the feed's newest frames, restamped on this track's clock."""

    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self.kind = feed.kind
        self.feed = feed
        self.queue: asyncio.Queue[Frame | None] = asyncio.Queue(QUEUE[feed.kind])
        self.started = time.monotonic()
        self.last_pts = -1
        self.samples = 0

    def push(self, frame: Frame | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(frame)

    def stop(self) -> None:
        self.feed.tracks.discard(self)
        super().stop()

    async def recv(self) -> Frame:
        frame = await self.queue.get()
        if frame is None or self.readyState != "live":
            self.stop()
            raise MediaStreamError
        if isinstance(frame, VideoFrame):
            return self._video(frame)
        return self._audio(frame)

    def _video(self, frame: VideoFrame) -> VideoFrame:
        copy = VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")
        pts = max(int((time.monotonic() - self.started) / VIDEO_CLOCK), self.last_pts + 1)
        copy.pts, copy.time_base, self.last_pts = pts, VIDEO_CLOCK, pts
        return copy

    def _audio(self, frame: AudioFrame) -> AudioFrame:
        array: Any = np.ascontiguousarray(frame.to_ndarray())
        copy = AudioFrame.from_ndarray(array, format=frame.format.name, layout=frame.layout.name)
        rate = frame.sample_rate
        behind = int((time.monotonic() - self.started) * rate) - self.samples
        if behind > rate // 10:  # after a pause, catch the sample clock up with the wall clock
            self.samples += behind
        copy.sample_rate, copy.pts, copy.time_base = rate, self.samples, fractions.Fraction(1, rate)
        self.samples += frame.samples
        return copy


class SlotTrack(FeedTrack):
    """A seat on a watcher's connection showing whichever feed ``show`` gives it. Empty, it sends nothing (the
    watcher's track goes muted); a feed that ends empties the seat instead of ending the track."""

    def __init__(self, kind: str) -> None:
        super().__init__(Feed(kind))  # a feed nobody puts frames in, until someone is shown

    def show(self, feed: Feed | None) -> None:
        self.feed.tracks.discard(self)
        while not self.queue.empty():  # nothing of the previous participant after the switch
            self.queue.get_nowait()
        self.feed = feed if feed is not None else Feed(self.kind)
        self.feed.tracks.add(self)

    def stop(self) -> None:
        super().stop()
        self.push(None)  # wakes a recv waiting on an empty seat

    async def recv(self) -> Frame:
        while True:
            frame = await self.queue.get()
            if self.readyState != "live":
                raise MediaStreamError
            if frame is not None:
                break
        if isinstance(frame, VideoFrame):
            return self._video(frame)
        return self._audio(frame)
