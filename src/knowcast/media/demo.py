"""A synthetic stream for `knowcast demo` and the latency benchmark: ffmpeg's test pattern, a tone, and a
running wall clock burned into the picture, published into a room through the embedded RTMP gate.

The clock is ffmpeg's ``drawtext`` (the imageio-ffmpeg binary has freetype and fontconfig) with the first
monospace font found on the machine; without one, the picture keeps testsrc2's own counter, which shows stream
time rather than wall-clock time (the limitation is logged). The benchmark adds a strip of black and white
blocks that spells the frame's time in binary, so a browser can read it from pixels without OCR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from knowcast import tasks
from knowcast.context import AppContext
from knowcast.media.rtmp_gate import RtmpGate
from knowcast.rooms.models import Room
from knowcast.settings import Settings

log = logging.getLogger(__name__)
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
    "/System/Library/Fonts/Menlo.ttc",
)
BITS = 24
BIT_WIDTH = 20
STRIP_HEIGHT = 24


def clock_font() -> str | None:
    return next((path for path in FONT_CANDIDATES if Path(path).exists()), None)


def video_graph(width: int = 640, height: int = 360, fps: int = 25, bits_offset_ms: int | None = None) -> str:
    """A lavfi graph: test pattern, optional time-code strip (ms since ``bits_offset_ms``'s origin), clock."""
    graph = f"testsrc2=s={width}x{height}:r={fps}"
    if bits_offset_ms is not None:
        value = f"floor(T*1000+{bits_offset_ms})"
        lum = f"255*mod(floor({value}/pow(2\\,floor(X/{BIT_WIDTH})))\\,2)"
        strip = f"color=c=black:s={BITS * BIT_WIDTH}x{STRIP_HEIGHT}:r={fps},format=gray,geq=lum='{lum}'"
        graph = f"{graph}[pattern];{strip}[strip];[pattern][strip]overlay=0:0"
    font = clock_font()
    if font is not None:
        clock = "%{localtime\\:%H\\\\\\:%M\\\\\\:%S.%3N}"
        size = max(16, height // 12)
        graph += (
            f",drawtext=fontfile={font}:text='{clock}':x=10:y=h-th-10:fontsize={size}"
            ":fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=6"
        )
    return graph


def publisher_args(ffmpeg: str, url: str, *, fps: int = 25, bits_offset_ms: int | None = None) -> list[str]:
    """ffmpeg publishing the synthetic stream in real time: H.264 (1 s GOP, low delay) and AAC, as OBS would."""
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i"]
    args += [video_graph(fps=fps, bits_offset_ms=bits_offset_ms)]
    args += ["-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:beep_factor=4"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(fps), "-pix_fmt", "yuv420p"]
    args += ["-b:v", "800k", "-c:a", "aac", "-b:a", "64k", "-f", "flv", url]
    return args


class DemoStream:
    """A Component that keeps the synthetic stream publishing into one room (restarting it if it stops)."""

    def __init__(self, ctx: AppContext, room_id: int, ffmpeg: str, gate: RtmpGate) -> None:
        self.ctx = ctx
        self.room_id = room_id
        self.ffmpeg = ffmpeg
        self.gate = gate
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        if clock_font() is None:
            log.warning("no monospace font found: the demo stream shows stream time, not a wall clock")
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            with contextlib.suppress(ProcessLookupError):
                await self._process.wait()

    async def _run(self) -> None:
        while True:
            async with self.ctx.db.session() as session:
                room = await session.get(Room, self.room_id)
            if room is not None and room.state.value == "ended":
                log.info("demo stream stops: its room has ended", extra={"room_id": self.room_id})
                return
            if room is None:
                await asyncio.sleep(2)
                continue
            url = f"rtmp://127.0.0.1:{self.gate.port}/live/{room.stream_key}"
            self._process = await asyncio.create_subprocess_exec(
                *publisher_args(self.ffmpeg, url), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL
            )
            await self._process.wait()
            await asyncio.sleep(2)  # the gate not up yet, or the key rotated: try again


def with_demo_stream(settings: Settings, room_id: int) -> Settings:
    """Settings for `knowcast demo`: embedded ingest, and the synthetic stream publishing into ``room_id``."""
    ingest = "embedded" if settings.ingest == "auto" else settings.ingest
    return settings.model_copy(update={"ingest": ingest, "demo_stream_room": room_id})
