"""The URLs a viewer plays: ours (embedded) or the external media server's (the playback-URL template)."""

from __future__ import annotations

from urllib.parse import quote

from knowcast.media import access
from knowcast.settings import Settings


def live_url(settings: Settings, room_id: int, public: bool) -> str:
    if settings.ingest == "external" and settings.media_playback_url:
        token = "" if public else access.new_token(settings.secret_key, room_id, settings.media_url_ttl_seconds)
        return settings.media_playback_url.format(room_id=room_id, token=quote(token))
    return _ours(settings, f"/media/rooms/{room_id}/live.m3u8", room_id, public)


def replay_url(settings: Settings, room_id: int, public: bool) -> str:
    return _ours(settings, f"/media/rooms/{room_id}/vod.m3u8", room_id, public)


def _ours(settings: Settings, path: str, room_id: int, public: bool) -> str:
    if public:
        return path
    token = access.new_token(settings.secret_key, room_id, settings.media_url_ttl_seconds)
    return f"{path}?t={quote(token)}"
