"""`knowcast bench latency --mode whip|guest`, through a real `knowcast serve`. Prints one JSON line.

The clock is the one of the WHEP benchmark (benchmarks/webrtc_latency.py): each picture a publisher sends carries
a top strip of 24 black or white blocks spelling the millisecond (wall clock mod 2^24) at which it was made; the
reader decodes the picture, reads the blocks, and latency = now − that time. One machine, one clock.

``whip``: glass to glass from a WebRTC publisher to a viewer of the HLS program. aiortc publishes the stamped
picture (640×360, 30 fps) over WHIP; headless Chromium opens the real room page (hls.js) and reads the blocks off
each presented frame (requestVideoFrameCallback, as `--mode hls` does).

``guest``: host ↔ guest on the stage (连麦). The host publishes a stamped 1280×720 picture over WHIP, a guest joins
with an invitation and publishes a stamped 640×360 picture; host → guest is read from the host's picture the
guest's connection receives, guest → host from the guest's picture the host's view receives (both aiortc, so a
browser's display path, typically 20–80 ms, is not in the figure). CPU: the server process (and its ffmpeg) over
a window with the host alone and with the guest on (the guest's decode, the composition into the 720p30 program,
the VP8 encodes of both directions); and the composition alone, timed in this process on the same frames
(thread CPU time of ``Stage.compose`` at 720p, as a share of one core at 30 pictures a second); and what an RTMP
host's program costs while a guest is on (``program.RtmpStage``: decoding the host's 720p30 H.264/AAC, composing,
encoding again), timed in this process on an ffmpeg test stream.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import av
import httpx
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av.video.frame import VideoFrame

from benchmarks.latency import Server, _first_segment, _read_frames
from benchmarks.webrtc_latency import BITS, WRAP, StampTrack, csrf_token, now_ms, read_stamp, wait_live, window_cpu
from knowcast.media.compose import Layout, compose
from knowcast.media.ffmpeg import ffmpeg_binary
from knowcast.media.flv_decode import TagDecoder
from knowcast.media.flv_mux import TagSplitter
from knowcast.media.program import ProgramEncoder
from knowcast.media.rtmp import Message
from knowcast.media.webrtc import close_peer

T = TypeVar("T")
SKIP = 60  # the first two seconds of pictures include ICE and the first keyframe


class Loop:
    """An asyncio loop in a thread of its own, for aiortc while this thread drives Chromium."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Reader:
    """Reads the stamp of every picture a track delivers."""

    def __init__(self, wanted: int) -> None:
        self.latencies: list[int] = []
        self.pictures = 0
        self.wanted = wanted
        self.enough = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def follow(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self.tasks.append(asyncio.ensure_future(self._take(track)))

    async def _take(self, track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            if isinstance(frame, VideoFrame):
                self.pictures += 1
                self.latencies.append((now_ms() - read_stamp(frame)) % WRAP)
                if len(self.latencies) >= self.wanted:
                    self.enough.set()

    def figures(self) -> tuple[float, int, int]:
        kept = sorted(self.latencies[SKIP:])
        return statistics.median(kept), kept[int(len(kept) * 0.9)], len(kept)

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


async def publish(client: httpx.AsyncClient, room_id: int, key: str, width: int, height: int) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(StampTrack(width, height))
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"content-type": "application/sdp", "authorization": f"Bearer {key}"}
    response = await client.post(f"/whip/rooms/{room_id}", content=pc.localDescription.sdp, headers=headers)
    response.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    return pc


# ---- whip: WebRTC publisher → HLS in Chromium ------------------------------------------------------------------


def bench_whip(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    ffmpeg = ffmpeg_binary(os.environ.get("KNOWCAST_FFMPEG"))
    result: dict[str, Any] = {"benchmark": "latency", "mode": "whip", "cores": os.cpu_count()}
    with Server(tmp / "whip", ffmpeg, ladder="") as server:
        room_id, key = server.new_room()
        loop = Loop()
        client = httpx.AsyncClient(base_url=server.url(""), timeout=30)
        started = time.monotonic()
        publisher = loop.run(publish(client, room_id, key, 640, 360))
        try:
            first = _first_segment(server, room_id, started)
            strip = {"count": args.samples, "mid": 20, "bits": BITS, "width": 640 // BITS}
            frames = _read_frames(server.url(f"/rooms/{room_id}"), args.samples, args.chromium, strip)
        finally:
            loop.run(close_peer(publisher))
            loop.run(client.aclose())
            loop.stop()
    # the page's reader takes the rightmost block as the top bit (the demo stream's order); ours is the leftmost
    latencies = sorted((int(f["shown"]) % WRAP - reversed_bits(f["value"])) % WRAP for f in frames)
    result |= {
        "whip_glass_to_glass_ms_median": round(statistics.median(latencies)),
        "whip_glass_to_glass_ms_p90": round(latencies[int(len(latencies) * 0.9) - 1]),
        "frames_sampled": len(latencies),
        "publish_to_first_segment_s": round(first, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    return result


def reversed_bits(value: int) -> int:
    return int(format(value, f"0{BITS}b")[::-1], 2)


# ---- guest: host ↔ guest on the stage ----------------------------------------------------------------------


async def stage_run(
    server: Server, room_id: int, key: str, session: str, samples: int, seconds: float
) -> dict[str, Any]:
    assert server.process is not None
    pid = server.process.pid
    cookies = {"kc_session": session}
    async with httpx.AsyncClient(base_url=server.url(""), timeout=30, cookies=cookies) as client:
        host = await publish(client, room_id, key, 1280, 720)
        await wait_live(client, room_id, time.monotonic())
        cpu_alone = await window_cpu(pid, seconds)
        csrf = {"x-csrf-token": await csrf_token(client)}
        base = f"/api/v1/media/rooms/{room_id}/stage"
        invite = await client.post(f"{base}/invites", json={"name": "bench"}, headers=csrf)
        invite.raise_for_status()

        to_guest = Reader(samples + SKIP)
        guest = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        guest.on("track", to_guest.follow)
        guest.addTrack(StampTrack(640, 360))
        await guest.setLocalDescription(await guest.createOffer())
        headers = {"content-type": "application/sdp", "authorization": f"Bearer {invite.json()['token']}"}
        joined = await client.post("/whip/stage", content=guest.localDescription.sdp, headers=headers)
        joined.raise_for_status()
        await guest.setRemoteDescription(RTCSessionDescription(sdp=joined.text, type="answer"))
        guest_id = (await client.get(base)).json()["guests"][0]["id"]

        to_host = Reader(samples + SKIP)
        view = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        view.addTransceiver("video", direction="recvonly")
        view.on("track", to_host.follow)
        await view.setLocalDescription(await view.createOffer())
        answer = await client.post(
            f"{base}/guests/{guest_id}/view",
            content=view.localDescription.sdp,
            headers={**csrf, "content-type": "application/sdp"},
        )
        answer.raise_for_status()
        await view.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
        await asyncio.wait_for(asyncio.gather(to_guest.enough.wait(), to_host.enough.wait()), 180)
        counts = (to_guest.pictures, to_host.pictures)
        cpu_stage = await window_cpu(pid, seconds)
        window = seconds + 2
        fps = [round((r.pictures - n) / window, 1) for r, n in zip((to_guest, to_host), counts, strict=True)]
        for reader in (to_guest, to_host):
            reader.stop()
        for pc in (view, guest, host):
            await close_peer(pc)
    h2g, g2h = to_guest.figures(), to_host.figures()
    both = sorted(to_guest.latencies[SKIP:] + to_host.latencies[SKIP:])
    return {
        "host_to_guest_ms_median": round(h2g[0]),
        "host_to_guest_ms_p90": h2g[1],
        "guest_to_host_ms_median": round(g2h[0]),
        "guest_to_host_ms_p90": g2h[1],
        "host_guest_ms_median": round(statistics.median(both)),
        "host_guest_ms_p90": both[int(len(both) * 0.9)],
        "samples_each_way": min(h2g[2], g2h[2]),
        "fps_received_guest_host": fps,
        "server_cpu_pct_host_alone_720p": round(cpu_alone, 1),
        "server_cpu_pct_host_and_guest_720p": round(cpu_stage, 1),
    }


def compose_cost(guests: int, pictures: int = 300) -> float:
    """Percent of one core that composing a 1280×720 program of the host and ``guests`` 640×360 guests takes at
    30 pictures a second (thread CPU time of the composition, on testsrc2 pictures)."""
    source = av.open("testsrc2=size=1280x720:rate=30", format="lavfi").decode(video=0)
    host = [next(source).reformat(format="yuv420p") for _ in range(30)]
    small = [frame.reformat(width=640, height=360, format="yuv420p") for frame in host]
    started = time.thread_time()
    for index in range(pictures):
        compose(Layout.SIDE_BY_SIDE, [host[index % 30], *[small[(index + g) % 30] for g in range(guests)]], 1280, 720)
    per_picture = (time.thread_time() - started) / pictures
    return round(100 * per_picture * 30, 1)


def rtmp_program_cost(tmp: Path, ffmpeg: str, seconds: int = 10) -> float:
    """Percent of one core that an RTMP host's composed program takes (without guests it is passed through and
    costs nothing): the host's 1280×720 30 fps H.264/AAC decoded, each picture composed with a 640×360 guest,
    encoded again (x264, AAC). Process CPU time, so x264's threads count; on an ffmpeg test stream."""
    path = tmp / "rtmp-host.flv"
    args = [
        ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=1280x720:rate=30:d={seconds}",
    ]
    args += ["-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:v", "libx264", "-preset", "veryfast", "-g", "60"]
    subprocess.run([*args, "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", str(path)], check=True)
    messages: list[Message] = []
    TagSplitter(messages.append).write(path.read_bytes())
    guest = next(av.open("testsrc2=size=640x360:rate=30", format="lavfi").decode(video=0)).reformat(format="yuv420p")
    decoder, encoder = TagDecoder(), ProgramEncoder(None, has_audio=True, keyframe_seconds=2)
    started = time.process_time()
    for message in messages:
        for frame in decoder.decode(message):
            if isinstance(frame, VideoFrame):
                frame = compose(Layout.SIDE_BY_SIDE, [frame, guest], 1280, 720)
            encoder.encode(frame)
    encoder.close()
    return round(100 * (time.process_time() - started) / seconds, 1)


def bench_guest(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    ffmpeg = ffmpeg_binary(os.environ.get("KNOWCAST_FFMPEG"))
    result: dict[str, Any] = {"benchmark": "latency", "mode": "guest", "cores": os.cpu_count()}
    with Server(tmp / "guest", ffmpeg, ladder="", webrtc_viewers=None) as server:
        room_id, key = server.new_room()
        session = server.host_token
        result |= asyncio.run(stage_run(server, room_id, key, session, args.samples, args.cpu_seconds))
    result["compose_cpu_pct_720p30_1_guest"] = compose_cost(1)
    result["compose_cpu_pct_720p30_3_guests"] = compose_cost(3)
    result["rtmp_program_cpu_pct_720p30_1_guest"] = rtmp_program_cost(tmp, ffmpeg)
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    return result
