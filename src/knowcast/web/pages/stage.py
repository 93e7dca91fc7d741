"""The guest's page for 连麦: ``/stage/join#<invite token>`` (the token stays in the fragment, out of server logs).

The page itself holds nothing secret: its script reads the token from the fragment and presents it to
``POST /whip/stage`` (knowcast.media.stage_routes) when the guest taps *Join*.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from knowcast.deps import Public
from knowcast.media.runtime import media_of
from knowcast.media.webrtc import ice_servers
from knowcast.web.pages.studio import CAMERA_POLICY
from knowcast.web.templating import pages_of as pages

router = APIRouter()


@router.get("/stage/join", dependencies=[Public])
async def join_page(request: Request) -> Response:
    page = pages(request)
    media = media_of(request)
    enabled, janus = media.whip is not None, media.janus_stage is not None
    servers = ice_servers(page.settings)
    response = page.render(request, "stage_join.html", enabled=enabled, janus=janus, ice_servers=servers)
    response.headers["permissions-policy"] = CAMERA_POLICY
    response.headers["referrer-policy"] = "no-referrer"
    return response
