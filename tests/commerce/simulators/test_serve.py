"""The simulator runner: an ASGI app served on loopback in its own thread answers real HTTP, from sync code
(as the providers' SDKs call it, in worker threads) and from async code, and is gone after the block."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.commerce.simulators import serve


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"path": request.url.path, "body": (await request.body()).decode()})


APP = Starlette(routes=[Route("/{rest:path}", echo, methods=["GET", "POST"])])


async def test_serves_sync_and_async_callers() -> None:
    with serve(APP) as url:
        sync = await asyncio.to_thread(httpx.post, f"{url}/v1/thing", content=b"hello")
        assert sync.json() == {"path": "/v1/thing", "body": "hello"}
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{url}/x")).json()["path"] == "/x"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/x", timeout=2)
