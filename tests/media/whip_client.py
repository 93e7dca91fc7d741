"""A scripted WHIP publisher: aiortc with a solid-colour picture and a tone, as a phone's browser would send."""

from __future__ import annotations

import fractions
import math
from typing import Any

import numpy as np
from aiortc import AudioStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame


class ColourTrack(VideoStreamTrack):
    """A 320×240 picture of one colour (RGB), so a frame decoded from the program says who sent it."""

    def __init__(self, rgb: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> None:
        super().__init__()
        width, height = size
        self.picture = np.zeros((height, width, 3), np.uint8)
        self.picture[:, :] = rgb

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self.picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(AudioStreamTrack):
    """A 440 Hz tone in 20 ms frames (aiortc's own AudioStreamTrack sends silence)."""

    async def recv(self) -> AudioFrame:
        frame = await super().recv()
        start = frame.pts or 0
        t = (np.arange(start, start + frame.samples) / frame.sample_rate).astype(np.float64)
        wave = (np.sin(2 * math.pi * 440 * t) * 3000).astype(np.int16)
        out = AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        out.sample_rate, out.pts, out.time_base = frame.sample_rate, frame.pts, fractions.Fraction(1, frame.sample_rate)
        return out


async def whip_offer(
    rgb: tuple[int, int, int] = (0, 200, 0),
    audio: bool = True,
    *,
    tone: bool = True,
    size: tuple[int, int] = (320, 240),
) -> RTCPeerConnection:
    """A peer connection sending a colour picture (and a tone, or silence with ``tone=False``), its offer ready in
    ``localDescription``."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # host candidates only: ICE over loopback, no STUN
    pc.addTrack(ColourTrack(rgb, size))
    if audio:
        pc.addTrack(ToneTrack() if tone else AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def whip_publish(client: Any, url: str, key: str | None, pc: RTCPeerConnection) -> Any:
    """POST the offer; on 201 apply the answer. Returns the HTTP response."""
    headers = {"content-type": "application/sdp"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    response = await client.post(url, content=pc.localDescription.sdp.encode(), headers=headers)
    if response.status_code == 201:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    return response
