"""Stream health for the host console: bitrate, frame rate, keyframe interval, dropped frames, warnings.

Frame counts, dropped frames and speed come from ffmpeg's ``-progress`` output (``key=value`` lines, one block
per second ending in ``progress=continue``). Bitrate and keyframe spacing are measured on the way in, in the
RTMP gate, because with stream copy ffmpeg reports neither (its ``bitrate`` is ``N/A`` for HLS output).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from pydantic import BaseModel

from knowcast.media.errors import MediaCode

WINDOW_SECONDS = 5.0
LOW_BITRATE_KBPS = 250
LOW_FPS = 20
STALL_SECONDS = 3.0
SLOW_SPEED = 0.9


def parse_progress(lines: list[str]) -> dict[str, str]:
    """One ``-progress`` block as a dict (``frame``, ``fps``, ``drop_frames``, ``speed``, ``progress``...)."""
    values: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.rstrip("x").strip())
    except ValueError:
        return None


class HealthIssue(BaseModel):
    code: str
    message: str


class HealthReport(BaseModel):
    publishing: bool
    bitrate_kbps: float | None = None
    fps: float | None = None
    keyframe_interval_s: float | None = None
    dropped_frames: int = 0
    speed: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    transcoding: bool = False
    warnings: list[HealthIssue] = []
    problems: list[HealthIssue] = []


@dataclass
class HealthTracker:
    """Numbers for one publishing session; ``report()`` turns them into what the console shows."""

    segment_seconds: float
    bytes_in: deque[tuple[float, int]] = field(default_factory=deque)
    frames: deque[tuple[float, float]] = field(default_factory=deque)
    last_keyframe_ms: int | None = None
    keyframe_interval_ms: int | None = None
    base_drops: int = 0
    run_drops: int = 0
    drops_grew_at: float = float("-inf")
    speed: float | None = None
    last_input: float = 0.0

    def on_input(self, size: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.last_input = now
        self.bytes_in.append((now, size))
        while self.bytes_in and self.bytes_in[0][0] < now - WINDOW_SECONDS:
            self.bytes_in.popleft()

    def on_keyframe(self, timestamp_ms: int) -> None:
        if self.last_keyframe_ms is not None and timestamp_ms > self.last_keyframe_ms:
            self.keyframe_interval_ms = timestamp_ms - self.last_keyframe_ms
        self.last_keyframe_ms = timestamp_ms

    def on_progress(self, values: dict[str, str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        frame = _number(values.get("frame"))
        if frame is not None:
            self.frames.append((now, frame))
            while len(self.frames) > 2 and self.frames[0][0] < now - WINDOW_SECONDS:
                self.frames.popleft()
        drops = _number(values.get("drop_frames"))
        if drops is not None and int(drops) > self.run_drops:
            self.run_drops, self.drops_grew_at = int(drops), now
        self.speed = _number(values.get("speed"))

    def dropped_before_ffmpeg(self, now: float | None = None) -> None:
        """A frame the ingest itself dropped (the WHIP encoder fell behind): counted with ffmpeg's drops."""
        self.base_drops += 1
        self.drops_grew_at = time.monotonic() if now is None else now

    def restarted(self) -> None:
        """ffmpeg restarted: its counters start from zero again, ours carry on."""
        self.base_drops, self.run_drops = self.dropped_frames, 0
        self.frames.clear()

    @property
    def dropped_frames(self) -> int:
        return self.base_drops + self.run_drops

    def bitrate_kbps(self, now: float) -> float | None:
        if not self.bytes_in:
            return None
        span = max(now - self.bytes_in[0][0], 1.0)
        return round(sum(size for _, size in self.bytes_in) * 8 / span / 1000, 1)

    def fps(self) -> float | None:
        if len(self.frames) < 2:
            return None
        (t0, f0), (t1, f1) = self.frames[0], self.frames[-1]
        return round((f1 - f0) / (t1 - t0), 1) if t1 > t0 else None

    def warnings(self, now: float, transcoding: bool) -> list[HealthIssue]:
        out: list[HealthIssue] = []
        rate, fps, gop = self.bitrate_kbps(now), self.fps(), self.keyframe_interval_ms
        if now - self.last_input > STALL_SECONDS:
            out.append(HealthIssue(code=MediaCode.MEDIA_STALLED, message="no video has arrived for a few seconds"))
        elif rate is not None and rate < LOW_BITRATE_KBPS:
            out.append(HealthIssue(code=MediaCode.MEDIA_LOW_BITRATE, message=f"bitrate is only {rate:.0f} kbps"))
        if fps is not None and fps < LOW_FPS:
            out.append(HealthIssue(code=MediaCode.MEDIA_LOW_FPS, message=f"frame rate is {fps:.0f} fps"))
        if gop is not None and gop > max(2000, 2000 * self.segment_seconds):
            out.append(
                HealthIssue(
                    code=MediaCode.MEDIA_KEYFRAME_INTERVAL,
                    message=f"keyframes every {gop / 1000:.1f} s; set the keyframe interval to 1 s for low delay",
                )
            )
        if now - self.drops_grew_at < WINDOW_SECONDS:
            out.append(
                HealthIssue(code=MediaCode.MEDIA_DROPPED_FRAMES, message=f"{self.dropped_frames} frames dropped")
            )
        if transcoding and self.speed is not None and self.speed < SLOW_SPEED:
            out.append(
                HealthIssue(code=MediaCode.MEDIA_SLOW_TRANSCODE, message=f"transcoding runs at {self.speed:.2f}x")
            )
        return out
