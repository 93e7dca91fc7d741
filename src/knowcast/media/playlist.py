"""HLS playlists: read the one ffmpeg keeps for a room, write the ones viewers get.

ffmpeg writes every segment of a room into one event playlist (it appends across reconnects, with a
discontinuity). From it we render a short sliding window for live viewers (cheap to poll each second), the
full list as a VOD the moment the stream ends, and a master playlist when there is a ladder.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

LIVE_WINDOW = 6
MPEGURL = "application/vnd.apple.mpegurl"


@dataclass(frozen=True, slots=True)
class Segment:
    uri: str
    duration: float
    program_time: datetime | None = None
    discontinuity: bool = False


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    segments: list[Segment] = field(default_factory=list)
    media_sequence: int = 0
    ended: bool = False

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    @property
    def started_at(self) -> datetime | None:
        return self.segments[0].program_time if self.segments else None


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    bandwidth: int
    resolution: str | None = None


def parse(text: str) -> MediaPlaylist:
    segments: list[Segment] = []
    duration, program_time, discontinuity = 0.0, None, False
    media_sequence, ended = 0, False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",", 1)[0] or 0)
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            program_time = parse_time(line.split(":", 1)[1])
        elif line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            media_sequence = int(line.split(":", 1)[1])
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            segments.append(Segment(line, duration, program_time, discontinuity and bool(segments)))
            duration, program_time, discontinuity = 0.0, None, False
    return MediaPlaylist(segments, media_sequence, ended)


def parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Rewrite = Callable[[str], str]


def render_live(playlist: MediaPlaylist, rewrite: Rewrite, *, ended: bool, window: int = LIVE_WINDOW) -> str:
    """The last ``window`` segments, numbered as in the full list so players can follow along."""
    start = max(0, len(playlist.segments) - window)
    shown = playlist.segments[start:]
    head = [
        f"#EXT-X-MEDIA-SEQUENCE:{playlist.media_sequence + start}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{sum(1 for s in playlist.segments[:start] if s.discontinuity)}",
    ]
    return _render(shown, rewrite, head, ended)


def render_vod(playlist: MediaPlaylist, rewrite: Rewrite) -> str:
    head = [f"#EXT-X-MEDIA-SEQUENCE:{playlist.media_sequence}", "#EXT-X-PLAYLIST-TYPE:VOD"]
    return _render(playlist.segments, rewrite, head, ended=True)


def _render(segments: Sequence[Segment], rewrite: Rewrite, head: list[str], ended: bool) -> str:
    target = max((math.ceil(s.duration) for s in segments), default=1)
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{max(1, target)}", *head]
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    for segment in segments:
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.program_time is not None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_time(segment.program_time)}")
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        lines.append(rewrite(segment.uri))
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def render_master(variants: Sequence[Variant], rewrite: Rewrite, leaf: str) -> str:
    """A master playlist pointing at ``<variant>/<leaf>`` for each rendition."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in variants:
        attrs = f"BANDWIDTH={variant.bandwidth}"
        if variant.resolution:
            attrs += f",RESOLUTION={variant.resolution}"
        lines += [f"#EXT-X-STREAM-INF:{attrs}", rewrite(f"{variant.name}/{leaf}")]
    return "\n".join(lines) + "\n"
