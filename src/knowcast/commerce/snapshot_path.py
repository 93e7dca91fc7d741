"""The room's commerce snapshot (``GET /api/v1/rooms/<id>/commerce``) as a plain ASGI handler, ahead of the app.

Every viewer's page asks for it on arrival, so in a join storm it comes ten thousand times a minute. For a
public room whose host runs no experiment, this answers from the room's shared snapshot
(room_snapshot.RoomSnapshots: built once per process, dropped by the events that change it) plus the
viewer's own part (a claimed coupon's value; their pending orders, owned products and held coupons:
commerce/mine.py; each batched over the viewers arriving together), without the
middleware stack, routing, dependency injection and a database session per request. It does for itself what
the skipped layers would (metrics, security headers, request id) and remembers a signed-in viewer's session
for the flash-sale hot path as the route does. Everything else — a ticket or members room (each viewer's
access decides what they see), a host with experiments (each viewer's variants dress the shelf), an unknown
room, any other path — goes on to the FastAPI route (room_routes.snapshot), which stays the reference:
tests/commerce/test_room_snapshot.py and tests/test_fast_paths.py check that both answer alike.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from knowcast import fast_paths
from knowcast.commerce.room_snapshot import encode
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.context import AppContext
from knowcast.db.types import MAX_ROW_ID
from knowcast.deps import SESSION_COOKIE
from knowcast.errors import NotFound
from knowcast.realtime.hub import Hub

log = logging.getLogger(__name__)
PATH = re.compile(r"^/api/v1/rooms/([1-9][0-9]{0,11})/commerce$")
ROUTE = "/api/v1/rooms/{room_id}/commerce"  # the metrics label, as the access log would write it


class SnapshotFastPath:
    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        self.switch = ctx.runtime(fast_paths.FastPaths)
        self.ids = fast_paths.RequestIds()
        self.security = fast_paths.raw_security_headers(ctx.settings)
        self._count: Callable[[], None] = ctx.metrics.requests.labels("GET", ROUTE, "200").inc
        self._observe = ctx.metrics.latency.labels("GET", ROUTE).observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        on = self.switch.on and scope["type"] == "http" and scope["method"] == "GET"
        match = PATH.match(scope["path"]) if on else None
        room_id = int(match.group(1)) if match else 0
        body = await self._answer(room_id, scope) if 0 < room_id <= MAX_ROW_ID else None
        if body is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = next((v[:64] for k, v in scope["headers"] if k == b"x-request-id"), b"") or self.ids.next()
        headers = [*fast_paths.json_headers(body), *self.security, (b"x-request-id", request_id)]
        await fast_paths.send_answer(send, 200, headers, body)
        self._count()
        self._observe(time.perf_counter() - started)

    async def _answer(self, room_id: int, scope: Scope) -> bytes | None:
        """The snapshot, or None when the route must answer (see the module's docstring)."""
        token = fast_paths.cookies(dict(scope["headers"])).get(SESSION_COOKIE)
        sessions = self.ctx.runtime(CommerceRuntime).sessions

        async def who() -> int | None:
            return await sessions.user_id(token) if token else None  # found sessions are remembered

        return await viewer_snapshot(self.ctx, room_id, who)


async def viewer_snapshot(ctx: AppContext, room_id: int, who: Callable[[], Awaitable[int | None]]) -> bytes | None:
    """What ``GET /api/v1/rooms/<room_id>/commerce`` answers the viewer ``who()`` names (asked only once the
    room is known to be answerable here), encoded; None when only the route can answer (see the docstring)."""
    rt = ctx.runtime(CommerceRuntime)
    assert rt.snapshots is not None and rt.claims is not None and rt.mine is not None
    try:
        shared = await rt.snapshots.get(room_id)
    except NotFound:
        return None
    except Exception:
        log.exception("room snapshot failed; the route answers", extra={"room_id": room_id})
        return None
    if not shared.public or shared.experiments:
        return None
    user_id = await who()
    if user_id is None:
        return shared.body
    body = shared.body if shared.drop is None else shared.body_for(await rt.claims.held(shared.drop.coupon.id, user_id))
    kinds = {entry.product.id: entry.product.kind for entry in shared.shelf}
    mine = await rt.mine.of(user_id, shared.host_id, kinds)
    return body[:-1] + b',"mine":' + encode(mine.model_dump(mode="json")) + b"}"  # the viewer's own part


def install(ctx: AppContext) -> None:
    """The snapshot rides the live socket's fresh ``welcome`` too (as ``commerce``), so that the room page
    needs no request for it; a room only the route can answer is left out, and the page asks the route."""

    async def welcome_part(room_id: int, user_id: int | None) -> dict[str, bytes]:
        async def known() -> int | None:
            return user_id

        try:
            body = await viewer_snapshot(ctx, room_id, known)
        except Exception:  # the viewer's own part failed: the welcome goes without it, the page asks the route
            log.exception("commerce snapshot for a welcome failed", extra={"room_id": room_id})
            return {}
        return {} if body is None else {"commerce": body}

    ctx.runtime(Hub).welcome_parts.append(welcome_part)
