"""The optional transcoding ladder: which renditions to make from one published stream."""

from __future__ import annotations

from dataclasses import dataclass

from knowcast.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Rung:
    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int = 128

    @property
    def bandwidth(self) -> int:
        return (self.video_kbps + self.audio_kbps) * 1000


KNOWN = {
    rung.name: rung
    for rung in (
        Rung("1080p", 1920, 1080, 4500),
        Rung("720p", 1280, 720, 2500),
        Rung("540p", 960, 540, 1500),
        Rung("480p", 854, 480, 1000, 96),
        Rung("360p", 640, 360, 600, 96),
        Rung("240p", 426, 240, 300, 64),
    )
}


def parse_ladder(value: str) -> list[Rung]:
    """``"720p,480p,360p"`` → rungs, highest first; empty means passthrough (no ladder)."""
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in KNOWN]
    if unknown:
        raise ConfigError(f"KNOWCAST_MEDIA_LADDER: unknown rung(s) {', '.join(unknown)}; pick from {', '.join(KNOWN)}")
    return sorted({KNOWN[name] for name in names}, key=lambda rung: -rung.height)
