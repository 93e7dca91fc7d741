"""STUN/TURN settings reach both sides: the browser's iceServers and aiortc's RTCConfiguration."""

from __future__ import annotations

from pathlib import Path

from knowcast.media.webrtc import ice_servers, rtc_configuration
from knowcast.settings import load_settings


def test_ice_servers_carry_turn_credentials_only_on_turn_urls(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        webrtc_ice_servers="stun:turn.example.com:3478, turn:turn.example.com:3478?transport=udp,,turns:t.example.com",
        webrtc_turn_username="knowcast",
        webrtc_turn_password="s3cret",
    )
    assert ice_servers(settings) == [
        {"urls": "stun:turn.example.com:3478"},
        {"urls": "turn:turn.example.com:3478?transport=udp", "username": "knowcast", "credential": "s3cret"},
        {"urls": "turns:t.example.com", "username": "knowcast", "credential": "s3cret"},
    ]
    config = rtc_configuration(settings)
    assert config.iceServers is not None
    assert [server.urls for server in config.iceServers][1] == "turn:turn.example.com:3478?transport=udp"
    assert config.iceServers[1].username == "knowcast" and config.iceServers[0].username is None


def test_no_ice_servers_means_host_candidates_only(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert ice_servers(settings) == []
    assert rtc_configuration(settings).iceServers == []  # not None: aiortc would fall back to Google's STUN


async def test_a_peer_whose_close_never_ends_is_given_up() -> None:
    """aiortc's close() waits on an earlier close's future, which a close that failed midway never resolves;
    close_peer gives up after its patience instead of holding a session's end (or a test's teardown) forever."""
    import asyncio

    from knowcast.media.webrtc import close_peer

    class StuckPeer:
        def __init__(self) -> None:
            self.closing: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def close(self) -> None:
            await self.closing

    peer = StuckPeer()
    await close_peer(peer, patience=0.05)  # type: ignore[arg-type]
    assert peer.closing.cancelled()  # the wait was cancelled, nothing is left pending
