"""The ffmpeg child that turns one published FLV stream into HLS: its binary, its arguments, its process.

Passthrough (``-c copy``) when the input is H.264/AAC, which costs almost no CPU; otherwise (or with a ladder)
libx264/AAC with keyframes forced on segment boundaries so 1 s segments stay 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from knowcast.errors import ConfigError
from knowcast.media.health import parse_progress
from knowcast.media.ladder import Rung
from knowcast.media.playlist import Variant
from knowcast.media.storage import INDEX, PASSTHROUGH

log = logging.getLogger(__name__)
SOURCE_BANDWIDTH = 3_000_000  # a guess for the master playlist; passthrough has a single variant anyway
STDERR_LINES = 30


def ffmpeg_binary(configured: str | None) -> str:
    """``KNOWCAST_FFMPEG`` when set, else the binary shipped inside the imageio-ffmpeg package."""
    if configured:
        return configured
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigError("ffmpeg not found: install imageio-ffmpeg or set KNOWCAST_FFMPEG") from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True)
class StreamPlan:
    """What ffmpeg does with one input: copy or transcode each track, and into which renditions."""

    video_copy: bool
    audio: str  # "copy" | "transcode" | "none"
    rungs: tuple[Rung, ...] = ()

    @property
    def transcoding(self) -> bool:
        return not self.video_copy or self.audio == "transcode" or bool(self.rungs)

    def variants(self) -> list[Variant]:
        if not self.rungs:
            return [Variant(PASSTHROUGH, SOURCE_BANDWIDTH)]
        return [Variant(r.name, r.bandwidth, f"{r.width}x{r.height}") for r in self.rungs]


def plan_for(video_codec: str, audio_codec: str | None, rungs: list[Rung]) -> StreamPlan:
    audio = "none" if audio_codec is None else "copy" if audio_codec == "aac" else "transcode"
    return StreamPlan(video_copy=video_codec == "h264" and not rungs, audio=audio, rungs=tuple(rungs))


def hls_args(binary: str, plan: StreamPlan, room_dir: Path, segment_seconds: float, append: bool) -> list[str]:
    flags = "independent_segments+program_date_time+temp_file" + ("+append_list+discont_start" if append else "")
    args = [binary, "-hide_banner", "-loglevel", "warning", "-nostats", "-fflags", "+genpts"]
    args += ["-probesize", "1000000", "-analyzeduration", "1000000", "-f", "flv", "-i", "pipe:0"]
    args += _codec_args(plan, segment_seconds)
    args += ["-f", "hls", "-hls_time", f"{segment_seconds:g}", "-hls_list_size", "0"]
    args += ["-hls_playlist_type", "event", "-hls_flags", flags]
    name = PASSTHROUGH if not plan.rungs else "%v"
    args += ["-hls_segment_filename", str(room_dir / name / "seg_%06d.ts")]
    args += ["-progress", "pipe:1", "-stats_period", "1", str(room_dir / name / INDEX)]
    return args


def _codec_args(plan: StreamPlan, segment_seconds: float) -> list[str]:
    keyframes = ["-force_key_frames", f"expr:gte(t,n_forced*{segment_seconds:g})", "-sc_threshold", "0"]
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", *keyframes]
    audio = {"copy": ["-c:a", "copy"], "transcode": ["-c:a", "aac", "-b:a", "128k"], "none": []}[plan.audio]
    if not plan.rungs:
        maps = ["-map", "0:v:0"] + (["-map", "0:a:0"] if plan.audio != "none" else [])
        return maps + (["-c:v", "copy"] if plan.video_copy else x264) + audio
    count = len(plan.rungs)
    split = f"[0:v]split={count}" + "".join(f"[s{i}]" for i in range(count))
    scales = [f"[s{i}]scale=-2:{rung.height}[v{i}]" for i, rung in enumerate(plan.rungs)]
    args = ["-filter_complex", ";".join([split, *scales])]
    streams = []
    for i, rung in enumerate(plan.rungs):
        args += ["-map", f"[v{i}]"] + (["-map", "0:a:0"] if plan.audio != "none" else [])
        args += [f"-b:v:{i}", f"{rung.video_kbps}k", f"-maxrate:v:{i}", f"{rung.video_kbps * 12 // 10}k"]
        args += [f"-bufsize:v:{i}", f"{rung.video_kbps * 2}k"]
        streams.append(f"v:{i}" + (f",a:{i}" if plan.audio != "none" else "") + f",name:{rung.name}")
    return args + x264 + audio + ["-var_stream_map", " ".join(streams)]


@dataclass
class FfmpegProcess:
    """One running ffmpeg: FLV goes in on stdin, ``-progress`` comes out on stdout, errors on stderr."""

    process: asyncio.subprocess.Process
    on_progress: Callable[[dict[str, str]], None]
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_LINES))
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def spawn(cls, args: list[str], on_progress: Callable[[dict[str, str]], None]) -> FfmpegProcess:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C meant for the server does not kill the recording mid-segment
        )
        child = cls(process, on_progress)
        child._readers = [asyncio.create_task(child._read_progress()), asyncio.create_task(child._read_stderr())]
        return child

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    async def write(self, data: bytes) -> None:
        """Raises ConnectionError when ffmpeg is gone."""
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing():
            raise ConnectionResetError("ffmpeg input is closed")
        stdin.write(data)
        await stdin.drain()

    async def finish(self, patience: float = 10.0) -> int:
        """Close the input so ffmpeg writes its last segment and exits; kill it if it does not."""
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
            with contextlib.suppress(ConnectionError, BrokenPipeError):
                await stdin.wait_closed()
        try:
            return await asyncio.wait_for(self.wait(), patience)
        except TimeoutError:
            self.kill()
            return await self.wait()

    async def wait(self) -> int:
        code = await self.process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        return code

    def kill(self) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)

    def error_text(self) -> str:
        return "\n".join(self.stderr_tail)

    async def _read_progress(self) -> None:
        assert self.process.stdout is not None
        block: list[str] = []
        async for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").strip()
            block.append(line)
            if line.startswith("progress="):
                try:
                    self.on_progress(parse_progress(block))
                except Exception:
                    log.exception("progress handler failed")
                block = []

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                self.stderr_tail.append(line)
