"""Operations endpoints: /healthz (checks the database) and /metrics (Prometheus text format)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from knowcast.deps import Ctx, Public

router = APIRouter(tags=["operations"])


@router.get("/healthz", dependencies=[Public])
async def healthz(ctx: Ctx) -> Response:
    try:
        await ctx.db.ping()
    except Exception as exc:
        body = {"status": "unhealthy", "database": "down", "error": type(exc).__name__}
        return Response(json.dumps(body), status_code=503, media_type="application/json")
    return Response(json.dumps({"status": "ok", "database": "ok"}), media_type="application/json")


@router.get("/metrics", dependencies=[Public])
async def metrics(ctx: Ctx) -> Response:
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
