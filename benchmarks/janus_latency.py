"""`knowcast bench latency --mode whep --janus`: WHIP in, the program through Janus, out. Prints one JSON line.

Method, as `--mode whep` (benchmarks/webrtc_latency.py): the benchmark publishes over WHIP a picture spelling the
millisecond it was made; the server (scaled mode, KNOWCAST_JANUS_URL) publishes its program once into a Janus
videoroom of a Janus this benchmark starts (benchmarks/janus_gateway.py); viewers in the benchmark process
(aiortc) get a ticket from the server and subscribe with Janus; for every decoded picture the first viewer reads
the stamp, latency = now − the picture's time. One machine, one clock; capture to decoded picture.

Viewers held: the CPU of the Knowcast process (with its ffmpeg) and of Janus over a window with 0, 1, 2 and 4
viewers, and then with `--janus-viewers` (default 16). Knowcast's should not grow with viewers (one encode per
room); Janus's per-viewer increment (forwarding, SRTP) is what bounds a Janus process: one core divided by it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av.video.frame import VideoFrame

from benchmarks.janus_gateway import JanusServer, janus_server, program_feed
from benchmarks.latency import Server
from benchmarks.webrtc_latency import WRAP, csrf_token, now_ms, publish, read_stamp, wait_live, window_cpu
from knowcast.media.ffmpeg import ffmpeg_binary
from knowcast.media.janus import JanusClient, JanusSession
from knowcast.media.janus_program import videoroom_of
from knowcast.media.webrtc import close_peer

SECRET_KEY = "latency-benchmark-secret-key-0123456789"  # benchmarks/latency.py's Server


class JanusViewer:
    """An aiortc subscriber to the room's program in Janus, with the ticket the server gives a browser."""

    def __init__(self, record: bool) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.latencies: list[int] = []
        self.pictures = 0
        self.wanted = 0
        self.enough = asyncio.Event()
        self.record = record
        self.tasks: list[asyncio.Task[None]] = []
        self.client: JanusClient | None = None
        self.session: JanusSession | None = None
        self.pc.on("track", lambda track: self.tasks.append(asyncio.ensure_future(self._take(track))))

    async def _take(self, track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            if not isinstance(frame, VideoFrame):
                continue
            self.pictures += 1
            if self.record:
                self.latencies.append((now_ms() - read_stamp(frame)) % WRAP)
                if len(self.latencies) >= self.wanted:
                    self.enough.set()

    async def watch(self, client: httpx.AsyncClient, room_id: int) -> None:
        response = await client.post(
            f"/janus/rooms/{room_id}/ticket", headers={"x-csrf-token": await csrf_token(client)}
        )
        response.raise_for_status()
        ticket = response.json()
        self.client = JanusClient(ticket["url"], lambda: str(ticket["token"]))
        self.session = await self.client.session()
        handle = await self.session.attach()
        join = {"request": "join", "ptype": "subscriber", "room": ticket["room"], "token": ticket["room_token"]}
        offer = await handle.message({**join, "streams": [{"feed": ticket["feed"]}]})
        assert offer.jsep is not None
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.jsep["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await handle.message({"request": "start"}, {"type": "answer", "sdp": self.pc.localDescription.sdp})

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await close_peer(self.pc)
        if self.session is not None:
            await self.session.destroy()
        if self.client is not None:
            await self.client.close()


async def wait_program(janus: JanusServer, room_id: int) -> None:
    janus_room, _ = videoroom_of(SECRET_KEY, room_id)
    for _ in range(300):
        if await program_feed(janus, janus_room) is not None:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the program never reached Janus")


async def cpu_both(server_pid: int, janus_pid: int, seconds: float) -> tuple[float, float]:
    server, janus = await asyncio.gather(window_cpu(server_pid, seconds), window_cpu(janus_pid, seconds))
    return server, janus


async def measure(server: Server, janus: JanusServer, samples: int, cpu_seconds: float, most: int) -> dict[str, Any]:
    room_id, key = server.new_room()
    assert server.process is not None and janus.process is not None
    pids = (server.process.pid, janus.process.pid)
    viewers: list[JanusViewer] = []
    async with httpx.AsyncClient(base_url=server.url(""), timeout=30) as client:
        started = time.monotonic()
        publisher = await publish(client, room_id, key)
        live_after = await wait_live(client, room_id, started)
        await wait_program(janus, room_id)
        cpu: dict[int, tuple[float, float]] = {0: await cpu_both(*pids, cpu_seconds)}
        first = JanusViewer(record=True)
        first.wanted = samples + 60
        viewers.append(first)
        await first.watch(client, room_id)
        await asyncio.wait_for(first.enough.wait(), 120)
        latencies = sorted(first.latencies[60:])  # the first two seconds include ICE and the first keyframe
        cpu[1] = await cpu_both(*pids, cpu_seconds)
        for count in (2, 4, most):
            while len(viewers) < count:
                viewers.append(JanusViewer(record=False))
                await viewers[-1].watch(client, room_id)
            counts = [v.pictures for v in viewers]
            cpu[count] = await cpu_both(*pids, cpu_seconds)
        window = cpu_seconds + 2
        fps = [round((v.pictures - n) / window, 1) for v, n in zip(viewers, counts, strict=True)]
        for viewer in viewers:
            await viewer.close()
        await publisher.close()
    janus_per_viewer = (cpu[most][1] - cpu[1][1]) / (most - 1)
    return {
        "janus_glass_to_glass_median_ms": statistics.median(latencies),
        "janus_glass_to_glass_p90_ms": latencies[int(len(latencies) * 0.9)],
        "janus_samples": len(latencies),
        "whip_publish_to_live_s": round(live_after, 2),
        "knowcast_cpu_pct_by_viewers": {str(k): round(v[0], 1) for k, v in cpu.items()},
        "janus_cpu_pct_by_viewers": {str(k): round(v[1], 1) for k, v in cpu.items()},
        "janus_cpu_pct_per_viewer": round(janus_per_viewer, 2),
        "fps_min_median_of_viewers": [min(fps), statistics.median(fps)],
        "janus_viewers_per_core": int(100 // janus_per_viewer) if janus_per_viewer > 0 else None,
    }


def bench_janus(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    ffmpeg = ffmpeg_binary(os.environ.get("KNOWCAST_FFMPEG"))
    result: dict[str, Any] = {"benchmark": "latency", "mode": "whep+janus", "cores": os.cpu_count()}
    binary = os.environ.get("KNOWCAST_JANUS_BINARY") or shutil.which("janus") or "/usr/sbin/janus"
    with janus_server(binary, tmp / "janus") as janus:
        server = Server(tmp / "whep", ffmpeg, ladder="", webrtc_viewers=0)
        server.env |= janus.env()
        with server:
            result.update(asyncio.run(measure(server, janus, args.samples, args.cpu_seconds, args.janus_viewers)))
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    return result
