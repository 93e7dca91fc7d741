"""The live stream's program clock: the program date-time of the moment being captured now, so a pin made now
appears on each viewer's screen when their own video reaches that moment.

ffmpeg writes ``#EXT-X-PROGRAM-DATE-TIME`` on every segment of a room's playlist (media/ffmpeg.py) and
rewrites the playlist the moment a segment is complete, so the end of the newest segment is the program time
of the playlist file's modification time; what is being captured now is that, plus the time since. This
follows the stream's own clock (an encoder or an ingest running late, a clock skewed from ours) rather than
ours. No live video (no playlist, no program times, a finished or stalled stream): None.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from knowcast.media.storage import INDEX, MediaStore

STALLED_AFTER = timedelta(seconds=30)


def program_now(store: MediaStore, room_id: int, now: datetime | None = None) -> datetime | None:
    now = now or datetime.now(UTC)
    for variant in store.variants(room_id):
        playlist = store.playlist(room_id, variant.name)
        if playlist is None or playlist.ended or not playlist.segments:
            continue
        newest = playlist.segments[-1]
        if newest.program_time is None:
            continue
        try:
            written = (store.variant_dir(room_id, variant.name) / INDEX).stat().st_mtime
        except OSError:
            continue
        since = now - datetime.fromtimestamp(written, UTC)
        if since > STALLED_AFTER:
            return None
        return newest.program_time + timedelta(seconds=newest.duration) + max(since, timedelta(0))
    return None
