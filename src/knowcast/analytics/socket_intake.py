"""The analytics intake for events a viewer's page sends on its live socket (``track`` frames, docs/protocol.md).

The room page's view start, heartbeats, impressions and clicks ride the socket it already holds instead of a
``POST /api/v1/analytics/events`` each: in a room of ten thousand, heartbeats every 15 s alone would be
hundreds of HTTP requests a second. Each frame is checked as the HTTP intake checks a batch (the same schema,
the same ``Intake.accept``), its sender is the socket's (the visit is worked out once per socket, from its
handshake's cookies, address and user agent, as ``visit_of`` does for a request), and an event may only be about
the socket's own room (else it is rejected as ``room.other``). The answer is a ``tracked`` frame with the
intake's result, which the page reads as it reads the HTTP answer (a lost view is started again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from starlette.requests import HTTPConnection

from knowcast.analytics.intake import Visit
from knowcast.analytics.routes import visit_of
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.schemas import EventBatch, IntakeResult
from knowcast.context import AppContext
from knowcast.errors import validation_failed
from knowcast.privacy.visitors import VisitorIds
from knowcast.realtime.connection import Connection
from knowcast.realtime.hub import Hub
from knowcast.realtime.protocol import Track

VISIT = "analytics.visit"  # the socket's visit, kept in Connection.extra
OTHER_ROOM = "room.other"


class SocketIntake:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.runtime = ctx.runtime(AnalyticsRuntime)

    def install(self) -> None:
        self.ctx.runtime(Hub).track_handler = self.handle

    async def handle(self, conn: Connection, scope: Mapping[str, Any], frame: Track) -> dict[str, Any]:
        try:
            batch = EventBatch.model_validate({"events": list(frame.events)})
        except ValidationError as exc:
            raise validation_failed(exc.errors(include_url=False)) from None
        own = [event for event in batch.events if event.room_id == conn.room_id]
        intake = self.runtime.intake
        assert intake is not None
        result = (  # the visit is worked out only for a frame that holds an event it is needed for
            await intake.accept(await self._visit(conn, scope), own)
            if own
            else IntakeResult(accepted=0, rejected=0, reasons={})
        )
        others = len(batch.events) - len(own)
        for _ in range(others):
            self.runtime.reject(conn.room_id, OTHER_ROOM)
        reasons = result.reasons | ({OTHER_ROOM: others} if others else {})
        return {
            "type": "tracked",
            "accepted": result.accepted,
            "rejected": result.rejected + others,
            "reasons": reasons,
        }

    async def _visit(self, conn: Connection, scope: Mapping[str, Any]) -> Visit:
        visit: Visit | None = conn.extra.get(VISIT)
        if visit is None:
            request = HTTPConnection(dict(scope))
            if self.ctx.runtime(VisitorIds).ready():  # the salts are in memory: no database session at all
                visit = await visit_of(request, self.ctx, None, conn.user_id)
            else:
                async with self.ctx.db.session() as db:
                    visit = await visit_of(request, self.ctx, db, conn.user_id)
            conn.extra[VISIT] = visit
        return visit
