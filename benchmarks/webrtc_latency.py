"""`knowcast bench latency --mode whep`: WHIP in, WHEP out, through a real `knowcast serve`. Prints one JSON line.

Method. The benchmark process publishes over WHIP with aiortc: a 640×360, 30 fps picture generated live whose
top strip holds 24 black or white blocks spelling, in binary, the millisecond (wall clock mod 2^24) at which
the picture was made — the same strip the HLS latency benchmark burns in with ffmpeg. The server receives it
(aiortc), re-encodes to H.264 into the room's pipeline, and a WHEP viewer in the benchmark process (aiortc)
receives the program the server decodes and re-encodes to VP8 for it; for every decoded picture the viewer reads
the blocks and latency = now − the picture's time. One machine, one clock. The figure leaves out a browser's
display path (its jitter buffer and compositor, typically 20–80 ms) — it is capture-to-decoded-picture.

Viewers one process holds: the server process's CPU (utime + stime, ffmpeg children included) over a window
with 0, 1, 2 and 4 WebRTC viewers; the increment per viewer is what one viewer's VP8/Opus encode costs, and
one core divided by it is the budget a process can hold with nothing else to do.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from pathlib import Path
from typing import Any

import av
import httpx
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av.video.frame import VideoFrame

from benchmarks.latency import Server, _tree_cpu
from knowcast.media.ffmpeg import ffmpeg_binary
from knowcast.media.webrtc import close_peer

WIDTH, HEIGHT, BITS, STRIP = 640, 360, 24, 40
BLOCK = WIDTH // BITS
WRAP = 1 << BITS


def now_ms() -> int:
    return int(time.time() * 1000) % WRAP


class StampTrack(VideoStreamTrack):
    """ffmpeg's moving testsrc2 picture at ``width``×``height``, 30 fps (so encoders work as on a camera's), its
    top ninth spelling the millisecond each picture was made (the layout ``read_stamp`` reads at any size)."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        source = av.open(f"testsrc2=size={width}x{height}:rate=30", format="lavfi")
        self.pictures = source.decode(video=0)
        self.block, self.strip = width // BITS, height // 9  # 640×360: BLOCK, STRIP

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        picture = next(self.pictures).to_ndarray(format="rgb24")
        stamp = now_ms()
        for bit in range(BITS):
            on = (stamp >> (BITS - 1 - bit)) & 1
            picture[: self.strip, bit * self.block : (bit + 1) * self.block] = 255 if on else 0
        frame = VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


def read_stamp(frame: VideoFrame) -> int:
    grey = frame.to_ndarray(format="gray")
    scale = frame.width / WIDTH
    y = int(STRIP / 2 * frame.height / HEIGHT)
    value = 0
    for bit in range(BITS):
        x = int((bit + 0.5) * BLOCK * scale)
        value = (value << 1) | int(grey[y, x] > 128)
    return value


class Viewer:
    def __init__(self, record: bool) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.latencies: list[int] = []
        self.pictures = 0
        self.wanted = 0
        self.enough = asyncio.Event()
        self.record = record
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", lambda track: self.tasks.append(asyncio.ensure_future(self._take(track))))

    async def _take(self, track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            if isinstance(frame, VideoFrame):
                self.pictures += 1
            if self.record and isinstance(frame, VideoFrame):
                self.latencies.append((now_ms() - read_stamp(frame)) % WRAP)
                if len(self.latencies) >= self.wanted:
                    self.enough.set()

    async def watch(self, client: httpx.AsyncClient, room_id: int) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        headers = {"content-type": "application/sdp", "x-csrf-token": await csrf_token(client)}
        response = await client.post(f"/whep/rooms/{room_id}", content=self.pc.localDescription.sdp, headers=headers)
        response.raise_for_status()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await close_peer(self.pc)


async def csrf_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, "no CSRF token on the home page"
    return match.group(1)


async def publish(client: httpx.AsyncClient, room_id: int, key: str) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(StampTrack())
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"content-type": "application/sdp", "authorization": f"Bearer {key}"}
    response = await client.post(f"/whip/rooms/{room_id}", content=pc.localDescription.sdp, headers=headers)
    response.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    return pc


async def wait_live(client: httpx.AsyncClient, room_id: int, started: float) -> float:
    while time.monotonic() - started < 60:
        if (await client.get(f"/api/v1/rooms/{room_id}")).json()["state"] == "live":
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise RuntimeError("the WHIP room did not go live")


async def measure(server: Server, samples: int, cpu_seconds: float) -> dict[str, Any]:
    room_id, key = server.new_room()
    assert server.process is not None
    async with httpx.AsyncClient(base_url=server.url(""), timeout=30) as client:
        started = time.monotonic()
        publisher = await publish(client, room_id, key)
        live_after = await wait_live(client, room_id, started)
        cpu: dict[int, float] = {0: await window_cpu(server.process.pid, cpu_seconds)}
        viewer = Viewer(record=True)
        viewer.wanted = samples + 60
        await viewer.watch(client, room_id)
        await asyncio.wait_for(viewer.enough.wait(), 120)
        latencies = sorted(viewer.latencies[60:])  # the first two seconds include ICE and the first keyframe
        cpu[1] = await window_cpu(server.process.pid, cpu_seconds)
        extra = [Viewer(record=False) for _ in range(3)]
        for other in extra[:1]:
            await other.watch(client, room_id)
        cpu[2] = await window_cpu(server.process.pid, cpu_seconds)
        for other in extra[1:]:
            await other.watch(client, room_id)
        counts = [v.pictures for v in (viewer, *extra)]
        cpu[4] = await window_cpu(server.process.pid, cpu_seconds)
        window = cpu_seconds + 2
        fps = [round((v.pictures - n) / window, 1) for v, n in zip((viewer, *extra), counts, strict=True)]
        for other in [viewer, *extra]:
            await other.close()
        await publisher.close()
    per_viewer = (cpu[4] - cpu[1]) / 3
    return {
        "whep_glass_to_glass_median_ms": statistics.median(latencies),
        "whep_glass_to_glass_p90_ms": latencies[int(len(latencies) * 0.9)],
        "whep_samples": len(latencies),
        "whip_publish_to_live_s": round(live_after, 2),
        "server_cpu_pct_by_viewers": {str(k): round(v, 1) for k, v in cpu.items()},
        "cpu_pct_per_webrtc_viewer": round(per_viewer, 1),
        "fps_each_of_4_viewers": fps,  # a viewer that gets fewer pictures costs less: read the CPU with these
        "webrtc_viewers_per_core": int(100 // per_viewer) if per_viewer > 0 else None,
    }


async def window_cpu(pid: int, seconds: float) -> float:
    await asyncio.sleep(2)  # let a change settle
    before, start = _tree_cpu(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (_tree_cpu(pid) - before) / (time.monotonic() - start)


def bench_whep(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import os

    ffmpeg = ffmpeg_binary(os.environ.get("KNOWCAST_FFMPEG"))
    result: dict[str, Any] = {"benchmark": "latency", "mode": "whep", "cores": os.cpu_count()}
    with Server(tmp / "whep", ffmpeg, ladder="", webrtc_viewers=None) as server:
        result.update(asyncio.run(measure(server, args.samples, args.cpu_seconds)))
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    return result
