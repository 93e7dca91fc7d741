"""Playlists: parsing ffmpeg's, rendering the live window, the VOD and the master; the ladder setting; health."""

from __future__ import annotations

import pytest

from knowcast.errors import ConfigError
from knowcast.media import health, playlist
from knowcast.media.ladder import parse_ladder

FFMPEG_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-DISCONTINUITY
#EXT-X-INDEPENDENT-SEGMENTS
{segments}"""


def _segments(count: int, discontinuity_at: int | None = None) -> str:
    lines = []
    for n in range(count):
        if n == discontinuity_at:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += ["#EXTINF:1.000000,", f"#EXT-X-PROGRAM-DATE-TIME:2026-11-28T04:40:{10 + n:02d}.466+0000"]
        lines.append(f"seg_{n:06d}.ts")
    return "\n".join(lines)


def test_parse_reads_segments_times_and_discontinuities() -> None:
    parsed = playlist.parse(FFMPEG_PLAYLIST.format(segments=_segments(10, discontinuity_at=4)))
    assert len(parsed.segments) == 10 and parsed.duration == 10
    assert parsed.started_at is not None and parsed.started_at.isoformat() == "2026-11-28T04:40:10.466000+00:00"
    assert [s.discontinuity for s in parsed.segments].count(True) == 1
    assert not parsed.ended


def test_live_window_keeps_numbering_and_counts_discontinuities_before_it() -> None:
    parsed = playlist.parse(FFMPEG_PLAYLIST.format(segments=_segments(10, discontinuity_at=2)))
    text = playlist.render_live(parsed, lambda uri: f"src/{uri}", ended=False, window=3)
    assert "#EXT-X-MEDIA-SEQUENCE:7" in text and "#EXT-X-DISCONTINUITY-SEQUENCE:1" in text
    assert text.count("#EXTINF") == 3 and "src/seg_000009.ts" in text
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T04:40:19.466Z" in text
    assert "#EXT-X-ENDLIST" not in text
    assert playlist.render_live(parsed, str, ended=True).rstrip().endswith("#EXT-X-ENDLIST")


def test_vod_and_master() -> None:
    parsed = playlist.parse(FFMPEG_PLAYLIST.format(segments=_segments(3)))
    vod = playlist.render_vod(parsed, lambda uri: uri + "?t=x")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in vod and "seg_000002.ts?t=x" in vod and vod.rstrip().endswith("#EXT-X-ENDLIST")
    master = playlist.render_master([playlist.Variant("720p", 2_628_000, "1280x720")], str, "live.m3u8")
    assert "#EXT-X-STREAM-INF:BANDWIDTH=2628000,RESOLUTION=1280x720\n720p/live.m3u8" in master


def test_parse_survives_junk() -> None:
    parsed = playlist.parse("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:not a time\n#EXTINF:,\nseg_000000.ts\n")
    assert parsed.segments[0].program_time is None and parsed.segments[0].duration == 0


def test_ladder_setting() -> None:
    assert [r.name for r in parse_ladder("360p, 720p,480p")] == ["720p", "480p", "360p"]
    assert parse_ladder("") == []
    with pytest.raises(ConfigError):
        parse_ladder("720p,4k")


def test_progress_blocks_and_health_warnings() -> None:
    block = ["frame=100", "fps=25.00", "drop_frames=0", "speed=1.01x", "progress=continue"]
    assert health.parse_progress(block)["speed"] == "1.01x"
    tracker = health.HealthTracker(segment_seconds=1.0)
    tracker.on_progress({"frame": "0", "drop_frames": "0", "speed": "1.0x"}, now=100.0)
    tracker.on_progress({"frame": "100", "drop_frames": "0", "speed": "1.0x"}, now=104.0)
    for second in range(5):
        tracker.on_input(250_000, now=100.0 + second)
    tracker.on_keyframe(0)
    tracker.on_keyframe(4000)
    assert tracker.fps() == 25.0
    assert tracker.bitrate_kbps(104.0) == 2500.0
    assert [w.code for w in tracker.warnings(104.0, transcoding=False)] == ["media.keyframe_interval"]
    tracker.on_progress({"frame": "110", "drop_frames": "7", "speed": "0.5x"}, now=105.0)
    codes = [w.code for w in tracker.warnings(109.0, transcoding=True)]
    assert "media.dropped_frames" in codes and "media.slow_transcode" in codes and "media.stalled" in codes
    tracker.restarted()
    tracker.on_progress({"frame": "5", "drop_frames": "2"}, now=110.0)
    assert tracker.dropped_frames == 9
