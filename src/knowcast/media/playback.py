"""The URLs a viewer plays: ours (embedded) or the external media server's (the playback-URL template)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import quote

from knowcast.media import access
from knowcast.media.webrtc import ice_servers
from knowcast.rooms.models import Room
from knowcast.rooms.states import AccessMode, RoomState
from knowcast.settings import Settings

if TYPE_CHECKING:
    from knowcast.media.runtime import Media


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


def webrtc_url(media: Media, room_id: int, public: bool) -> str | None:
    """Where a viewer's browser may ask to watch over WebRTC, when this server offers it: WHEP on the embedded
    ingest with a place left in its WebRTC viewer budget, or, in scaled mode, a ticket to the room's Janus
    videoroom (the capacity is then Janus's). A crowd arriving once the places are taken gets no offer and goes
    straight to HLS (the room page's shared render lags by at most its few seconds; a late offer meets 503 and
    the player plays HLS all the same)."""
    if media.janus is not None:  # scaled mode: Janus holds the viewers, Knowcast gives each a ticket
        return _ours(media.settings, f"/janus/rooms/{room_id}/ticket", room_id, public)
    if media.whep is None or not media.whep.has_room:
        return None
    return _ours(media.settings, f"/whep/rooms/{room_id}", room_id, public)


def page_context(media: Media, room: Room, can_watch: bool) -> dict[str, str | None]:
    """What the room page's video area starts with: the player state and, when on air, the stream URLs."""
    settings = media.settings
    public = room.access_mode is AccessMode.PUBLIC
    has_video = media.store.segment_count(room.id) > 0
    on_air = room.state in (RoomState.LIVE, RoomState.RECONNECTING)
    stream = can_watch and on_air and (has_video or settings.ingest == "external")
    state = {RoomState.RECONNECTING: "reconnecting", RoomState.ENDED: "ended"}.get(room.state, "starting")
    return {
        "player_state": state,
        "stream_url": live_url(settings, room.id, public) if stream else None,
        "webrtc_url": webrtc_url(media, room.id, public) if stream else None,
        "webrtc_via": "janus" if media.janus is not None else "whep",
        "ice_servers": json.dumps(ice_servers(settings)),  # the browser's RTCPeerConnection iceServers
        "replay_url": f"/rooms/{room.id}/replay" if room.state is RoomState.ENDED and has_video else None,
    }
