"""WebRTC connectivity: the STUN/TURN servers, one list for browsers and for aiortc.

``KNOWCAST_WEBRTC_ICE_SERVERS`` holds ``stun:`` and ``turn:`` URLs; the TURN credentials are the same for every
``turn:``/``turns:`` URL (coturn's static user, docs/operations.md). Empty means host candidates only, which is
enough on one machine or one LAN, and what the tests use (ICE over loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from starlette.requests import Request

from knowcast.errors import AuthenticationRequired, ValidationFailed
from knowcast.media.errors import MediaCode
from knowcast.settings import Settings

SDP = "application/sdp"
MAX_OFFER_BYTES = 64 * 1024
CLOSE_PATIENCE = 10.0  # seconds


async def close_peer(pc: RTCPeerConnection, patience: float = CLOSE_PATIENCE) -> None:
    """Close a peer connection, giving up after ``patience`` seconds. aiortc's ``close()`` waits on the future of
    any earlier close, which an earlier close that failed midway never resolves: a second close then waits
    forever (seen once in a few dozen WHIP test runs: the session's end, and the test's teardown, never came)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pc.close(), patience)


def ice_servers(settings: Settings) -> list[dict[str, Any]]:
    """The ``iceServers`` of a browser's ``RTCPeerConnection``."""
    servers: list[dict[str, Any]] = []
    for url in (part.strip() for part in settings.webrtc_ice_servers.split(",")):
        if not url:
            continue
        server: dict[str, Any] = {"urls": url}
        if url.startswith(("turn:", "turns:")):
            server["username"] = settings.webrtc_turn_username
            server["credential"] = settings.webrtc_turn_password
        servers.append(server)
    return servers


def rtc_configuration(settings: Settings) -> RTCConfiguration:
    """The same servers for aiortc's side of the connection."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in ice_servers(settings)
        ]
    )


async def read_offer(request: Request) -> str:
    """The SDP offer of a WHIP or WHEP request: sent as application/sdp, at most MAX_OFFER_BYTES."""
    if not request.headers.get("content-type", "").startswith(SDP):
        raise ValidationFailed("send the SDP offer as application/sdp", code=MediaCode.MEDIA_BAD_OFFER)
    offer = await request.body()
    if len(offer) > MAX_OFFER_BYTES:
        raise ValidationFailed("the SDP offer is too large", code=MediaCode.MEDIA_BAD_OFFER)
    return offer.decode("utf-8", errors="replace")


def bearer(request: Request, what: str, code: MediaCode) -> str:
    """The credential a WHIP client sends as ``Authorization: Bearer <value>`` (a stream key, an invitation's
    token); 401 with ``code`` and ``WWW-Authenticate: Bearer`` when there is none."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationRequired(
            f"send {what} as 'Authorization: Bearer <{what.split()[-1]}>'",
            code=code,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return value.strip()
