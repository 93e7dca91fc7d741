"""`knowcast bench latency`: glass-to-glass latency of the embedded video path, CPU per published stream, and
the time from publish to the first playable segment. Prints one JSON line.

Method. A real `knowcast serve` process (embedded RTMP gate, fresh SQLite) and a real ffmpeg publisher that
generates the picture live (testsrc2 + tone, x264 ultrafast, 1 s GOP). Each frame carries a strip of 24 black
or white blocks that spell, in binary, the milliseconds at which ffmpeg generated it (origin + frame time),
plus a human-readable wall clock. Headless Chromium opens the real room page (hls.js); for each frame it
presents, requestVideoFrameCallback gives the display time, the page reads the blocks off a canvas, and
latency = display time − generation time. ffmpeg's frame time starts a little after the origin we pass it
(process start-up), so the publisher also reports -progress, and that start-up offset is measured and added
back (``source_clock_offset_ms``). Second, independent figure: hls.js's ``playingDate`` (the segment's
EXT-X-PROGRAM-DATE-TIME, stamped when our ffmpeg received the frame) against Date.now() — ingest-to-glass.

CPU: utime+stime of the server process and its ffmpeg children over a window while a 720p H.264/AAC file is
published with ``-c copy`` (so the publisher's own CPU is not counted), once in passthrough and once with the
ladder (720p/480p/360p).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from knowcast.media import demo
from knowcast.media.ffmpeg import ffmpeg_binary
from knowcast.settings import Settings

HZ = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
READ_FRAMES_JS = """
async ({ count, mid, bits, width }) => {
  const video = document.getElementById('player');
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const samples = [];
  await new Promise((resolve) => {
    const onFrame = (now, meta) => {
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      ctx.drawImage(video, 0, 0);
      const row = ctx.getImageData(0, mid, bits * width, 1).data;
      let value = 0;
      for (let bit = bits - 1; bit >= 0; bit--) {
        const x = bit * width + width / 2;
        value = value * 2 + (row[x * 4] > 127 ? 1 : 0);
      }
      const shown = performance.timeOrigin + (meta.expectedDisplayTime || now);
      const stage = document.getElementById('stage');
      const hls = stage.knowcastPlayer && stage.knowcastPlayer.hls;
      const pdt = hls && hls.playingDate ? Date.now() - hls.playingDate.getTime() : null;
      samples.push({ value, shown, pdt });
      if (samples.length >= count) resolve(); else video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
  return samples;
}
"""


def run(args: argparse.Namespace, _settings: Settings) -> int:
    with tempfile.TemporaryDirectory(prefix="kc-latency-") as tmp:
        mode = getattr(args, "mode", "hls")
        if mode == "whep" and getattr(args, "janus", False):
            from benchmarks.janus_latency import bench_janus

            result = bench_janus(args, Path(tmp))
        elif mode == "whep":
            from benchmarks.webrtc_latency import bench_whep

            result = bench_whep(args, Path(tmp))
        elif mode in ("whip", "guest"):
            from benchmarks.stage_latency import bench_guest, bench_whip

            result = (bench_whip if mode == "whip" else bench_guest)(args, Path(tmp))
        else:
            result = bench(args, Path(tmp))
    print(json.dumps(result))
    return 0


def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    ffmpeg = ffmpeg_binary(os.environ.get("KNOWCAST_FFMPEG"))
    result: dict[str, Any] = {"benchmark": "latency", "cores": os.cpu_count()}
    with Server(tmp / "passthrough", ffmpeg, ladder="") as server:
        result.update(glass_to_glass(server, ffmpeg, args.samples, args.chromium))
        passthrough = cpu_per_stream(server, ffmpeg, tmp, args.cpu_seconds)
        result["cpu_passthrough_pct"], result["passthrough_speed"] = (
            passthrough["cpu_pct"],
            passthrough["realtime_speed"],
        )
    with Server(tmp / "ladder", ffmpeg, ladder="720p,480p,360p") as server:
        ladder = cpu_per_stream(server, ffmpeg, tmp, args.cpu_seconds)
        result["cpu_ladder_pct"], result["ladder_speed"] = ladder["cpu_pct"], ladder["realtime_speed"]
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    return result


class Server:
    """`knowcast serve` with the embedded gate, on free ports, in its own folder."""

    def __init__(self, folder: Path, ffmpeg: str, ladder: str, webrtc_viewers: int | None = 0) -> None:
        """``webrtc_viewers``: the server's WebRTC viewer budget; 0 (the default) makes the room page's player
        play HLS, whose delay is what a benchmark reading the page measures; None leaves the server's own."""
        folder.mkdir(parents=True)
        self.folder, self.port, self.rtmp_port = folder, free_port(), free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KNOWCAST_")},
            "KNOWCAST_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'kc.db'}",
            "KNOWCAST_DATA_DIR": str(folder),
            "KNOWCAST_SECRET_KEY": "latency-benchmark-secret-key-0123456789",
            "KNOWCAST_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
            "KNOWCAST_RTMP_PORT": str(self.rtmp_port),
            "KNOWCAST_MEDIA_LADDER": ladder,
            "KNOWCAST_LOG_LEVEL": "WARNING",
            "KNOWCAST_FFMPEG": ffmpeg,
        }
        if webrtc_viewers is not None:
            self.env["KNOWCAST_WEBRTC_MAX_VIEWERS"] = str(webrtc_viewers)
        self.process: subprocess.Popen[bytes] | None = None
        self.host_token = ""

    def __enter__(self) -> Server:
        log = (self.folder / "server.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "knowcast", "serve", "--port", str(self.port)], env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(15)

    def new_room(self) -> tuple[int, str]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:  # Playwright may own this thread's event loop
            return pool.submit(asyncio.run, self._new_room()).result()

    async def _new_room(self) -> tuple[int, str]:
        from knowcast.accounts import service as accounts
        from knowcast.accounts.models import Role
        from knowcast.accounts.schemas import SignUp
        from knowcast.app import build_context
        from knowcast.db.types import utcnow
        from knowcast.rooms import service as rooms
        from knowcast.rooms.schemas import RoomCreate
        from knowcast.settings import load_settings

        settings = load_settings(
            database_url=self.env["KNOWCAST_DATABASE_URL"],
            data_dir=self.folder,
            secret_key=self.env["KNOWCAST_SECRET_KEY"],
        )
        ctx = build_context(settings)
        try:
            async with ctx.db.session() as session:
                email = f"host{time.monotonic_ns()}@example.com"
                host = await accounts.create_user(
                    session, ctx, SignUp(email=email, password="x" * 12, display_name="Host"), Role.HOST
                )
                room = await rooms.create_room(session, ctx, host, RoomCreate(title="latency", scheduled_at=utcnow()))
                opened = await accounts.open_session(session, ctx, host, ip="127.0.0.1", user_agent="bench")
                self.host_token = opened.token  # the last room's host, signed in (the stage benchmark's console)
                return room.id, room.stream_key
        finally:
            await ctx.db.dispose()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def glass_to_glass(server: Server, ffmpeg: str, samples: int, chromium: str) -> dict[str, Any]:
    room_id, key = server.new_room()
    origin_ms = int(time.time() * 1000) % (1 << 24)  # what fits in the strip; wraps every 4.6 h
    base_ms = int(time.time() * 1000) - origin_ms
    args = demo.publisher_args(ffmpeg, f"rtmp://127.0.0.1:{server.rtmp_port}/live/{key}", bits_offset_ms=origin_ms)
    args = [part for arg in args for part in ((arg, "-readrate_initial_burst", "0") if arg == "-re" else (arg,))]
    args[-3:-3] = ["-progress", "pipe:1", "-stats_period", "0.5"]
    started = time.monotonic()
    publisher = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    offsets: list[float] = []
    reader = threading.Thread(target=_clock_offsets, args=(publisher, origin_ms + base_ms, offsets), daemon=True)
    reader.start()
    first_segment = _first_segment(server, room_id, started)
    try:
        frames = _read_frames(server.url(f"/rooms/{room_id}"), samples, chromium)
    finally:
        publisher.terminate()
        publisher.wait(10)
        reader.join(5)
    startup = statistics.median(offsets) if offsets else 0.0
    latencies = sorted(f["shown"] - (base_ms + f["value"] + startup) for f in frames)
    pdt = sorted(f["pdt"] for f in frames if f["pdt"] is not None)
    return {
        "glass_to_glass_ms_median": round(statistics.median(latencies)),
        "glass_to_glass_ms_p90": round(latencies[int(len(latencies) * 0.9) - 1]),
        "ingest_to_glass_ms_median": round(statistics.median(pdt)) if pdt else None,
        "source_clock_offset_ms": round(startup),
        "frames_sampled": len(frames),
        "publish_to_first_segment_s": round(first_segment, 2),
    }


def _first_segment(server: Server, room_id: int, started: float) -> float:
    while time.monotonic() - started < 60:
        response = httpx.get(server.url(f"/media/rooms/{room_id}/live.m3u8"), timeout=2)
        if response.status_code == 200 and "#EXT-X-STREAM-INF" in response.text:  # a ladder: follow a rendition
            variant = next(line for line in response.text.splitlines() if line and not line.startswith("#"))
            response = httpx.get(server.url(f"/media/rooms/{room_id}/{variant}"), timeout=2)
        if response.status_code == 200 and ".ts" in response.text:
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError("no segment within 60 s")


def _clock_offsets(publisher: subprocess.Popen[str], origin_wall_ms: int, offsets: list[float]) -> None:
    """How far ffmpeg's frame clock runs behind the origin we gave it: wall time − (origin + out_time),
    from each -progress report for as long as the publisher runs."""
    assert publisher.stdout is not None
    for line in publisher.stdout:
        value = line.strip().split("=", 1)
        if value[0] == "out_time_us" and value[1].isdigit() and int(value[1]) > 0:
            offsets.append(time.time() * 1000 - (origin_wall_ms + int(value[1]) / 1000))


def _read_frames(url: str, count: int, chromium: str, strip: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Chromium on the room page reads the blocks of ``count`` presented frames (``strip``: where they are; by
    default the demo stream's)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        for _ in range(300):
            if page.evaluate("document.getElementById('player').currentTime > 3"):
                break
            page.wait_for_timeout(100)
        strip = strip or {"count": count, "mid": demo.STRIP_HEIGHT // 2, "bits": demo.BITS, "width": demo.BIT_WIDTH}
        frames: list[dict[str, Any]] = page.evaluate(READ_FRAMES_JS, strip)
        browser.close()
    return frames


def cpu_per_stream(server: Server, ffmpeg: str, tmp: Path, seconds: float) -> dict[str, float]:
    """Percent of one core used by the server and its ffmpeg children for one published 720p stream, and how
    many seconds of video it made per second (below 1.0 it cannot keep up, and the CPU figure is a floor)."""
    sample = tmp / "720p.flv"
    if not sample.exists():
        graph = demo.video_graph(width=1280, height=720, fps=30)
        make = [ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", graph, "-f", "lavfi", "-i", "sine", "-t", "10"]
        make += ["-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-b:v", "2500k", "-pix_fmt", "yuv420p"]
        subprocess.run([*make, "-c:a", "aac", "-f", "flv", str(sample)], check=True)
    room_id, key = server.new_room()
    args = [ffmpeg, "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(sample), "-c", "copy", "-f", "flv"]
    publisher = subprocess.Popen([*args, f"rtmp://127.0.0.1:{server.rtmp_port}/live/{key}"], stdin=subprocess.DEVNULL)
    try:
        _first_segment(server, room_id, time.monotonic())
        time.sleep(3)  # settle
        assert server.process is not None
        before, media_before, wall = _tree_cpu(server.process.pid), _media_seconds(server, room_id), time.monotonic()
        time.sleep(seconds)
        used, elapsed = _tree_cpu(server.process.pid) - before, time.monotonic() - wall
        speed = (_media_seconds(server, room_id) - media_before) / elapsed
        return {"cpu_pct": round(100 * used / elapsed, 1), "realtime_speed": round(speed, 2)}
    finally:
        publisher.terminate()
        publisher.wait(10)


def _media_seconds(server: Server, room_id: int) -> float:
    """Seconds of video made so far (one rendition; a ladder makes them all in step)."""
    from knowcast.media.storage import MediaStore

    store = MediaStore(server.folder / "media")
    variants = store.variants(room_id)
    parsed = store.playlist(room_id, variants[-1].name) if variants else None
    return parsed.duration if parsed else 0.0


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / HZ
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo += [int(child) for child in children]
    return total
