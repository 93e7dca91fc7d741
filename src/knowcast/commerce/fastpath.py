"""The flash-sale attempt as a plain ASGI handler, ahead of the whole app.

A flash sale is the one request that arrives ten thousand times in a second. The middleware stack, routing
through ~150 routes, dependency injection and response-model validation cost several times more than the
gate itself, so this handler serves ``POST /api/v1/flash-sales/<id>/attempts`` (JSON) before all of them,
as the real-time plane's LiveSockets does for its WebSockets. It does what the skipped layers would do for
it — counts and times the request in the app's metrics, adds the security headers and a request id, caps
the body — and applies exactly the checks of the FastAPI route it stands in front of (room_routes.attempt,
which stays registered, documented and guarded): a session (buyers.CACHE, else batched database lookups), the CSRF
header, the AttemptIn schema, the same service call, the same error bodies. It writes no access-log line
per attempt (the metrics count them). tests/commerce/test_fastpath.py checks that both paths answer alike.
Anything else — another path, another method, a form body, an id past MAX_ROW_ID — passes through untouched.

`knowcast serve` runs it in front of the FastAPI app itself (``in_front``), so that an attempt does not
pass FastAPI's and Starlette's own outer layers either; inside the app it is also the outermost middleware,
for whoever calls the app directly. Per attempt it allocates what it must and little else: the answers
without an order are encoded once, metric children are looked up once, request ids come from a counter.
docs/benchmarks.md "Flash sale" has what an attempt costs, layer by layer.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Callable

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from knowcast import csrf, middleware
from knowcast.commerce import flash
from knowcast.commerce.flash_gate import Outcome
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.schemas import AttemptIn, AttemptOut
from knowcast.context import AppContext
from knowcast.db.types import MAX_ROW_ID
from knowcast.deps import SESSION_COOKIE
from knowcast.errors import AuthenticationRequired, CsrfFailed, KnowcastError, PayloadTooLarge, ValidationFailed
from knowcast.timing import same_secret

log = logging.getLogger(__name__)
PATH = re.compile(r"^/api/v1/flash-sales/([1-9][0-9]{0,9})/attempts$")
MAX_BODY = 4096
CSRF_HEADER = csrf.HEADER.encode()

ROUTE = "/api/v1/flash-sales/{sale_id}/attempts"  # the metrics label, as the access log would write it
SECURITY_HEADERS = [(name.encode(), value.encode()) for name, value in middleware.SECURITY_HEADERS.items()]
# what most of a crowd hears (no order in it), encoded once: the same bytes the route would send
ANSWERS = {outcome: AttemptOut(outcome=outcome).model_dump_json().encode() for outcome in Outcome}


def response_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), *SECURITY_HEADERS]


ANSWER_HEADERS = {body: response_headers(body) for body in ANSWERS.values()}


class RequestIds:
    """Request ids as unique as ``token_hex(8)`` within a process, without a system call each: a random
    per-process prefix and a counter."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._count = itertools.count()

    def next(self) -> bytes:
        return f"{self._prefix}{next(self._count):08x}".encode()


class FlashFastPath:
    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        self.metrics = ctx.metrics
        self.ids = RequestIds()
        self.sessions = ctx.runtime(CommerceRuntime).sessions
        self._observe = ctx.metrics.latency.labels("POST", ROUTE).observe
        self._counters: dict[int, Callable[[], None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        headers = dict(scope["headers"]) if match else {}
        sale_id = int(match.group(1)) if match else 0
        if not 0 < sale_id <= MAX_ROW_ID or not headers.get(b"content-type", b"").startswith(b"application/json"):
            await self.app(scope, receive, send)  # the route answers the rest (and refuses ids past MAX_ROW_ID)
            return
        started = time.perf_counter()
        status, body, extra = await self._answer(sale_id, headers, receive)
        request_id = headers.get(b"x-request-id", b"")[:64] or self.ids.next()
        out = [*(ANSWER_HEADERS.get(body) or response_headers(body)), (b"x-request-id", request_id), *extra]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})
        self._count(status)
        self._observe(time.perf_counter() - started)

    def _count(self, status: int) -> None:
        inc = self._counters.get(status)
        if inc is None:
            inc = self._counters[status] = self.metrics.requests.labels("POST", ROUTE, str(status)).inc
        inc()

    async def _answer(
        self, sale_id: int, headers: dict[bytes, bytes], receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        try:
            return 200, await self._attempt(sale_id, headers, receive), []
        except KnowcastError as error:
            extra = [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
            return error.status_code, json.dumps(error.to_dict()).encode(), extra
        except Exception:
            log.exception("flash attempt failed", extra={"sale_id": sale_id})
            internal = KnowcastError("something went wrong on our side; it has been logged")
            return 500, json.dumps(internal.to_dict()).encode(), []

    async def _attempt(self, sale_id: int, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        cookies = _cookies(headers.get(b"cookie", b"").decode("latin-1"))
        user_id = await self._user_id(cookies.get(SESSION_COOKIE))
        sent = headers.get(CSRF_HEADER, b"").decode("latin-1")
        nonce = cookies.get(csrf.COOKIE)
        if not nonce or not sent or not same_secret(sent, csrf.token_for(self.ctx.settings.secret_key, nonce)):
            raise CsrfFailed("the form has expired or did not come from this site; reload the page and try again")
        data = _parse(await _read(receive))
        result = await flash.attempt(self.ctx, user_id, sale_id, data.quantity, data.idempotency_key, None)
        if result.summary is None:
            return ANSWERS[result.outcome]
        return AttemptOut(outcome=result.outcome, order=result.summary).model_dump_json().encode()

    async def _user_id(self, token: str | None) -> int:
        user_id = await self.sessions.user_id(token) if token else None
        if user_id is None:
            raise AuthenticationRequired("sign in first")
        return user_id


def _parse(raw: bytes) -> AttemptIn:
    try:
        return AttemptIn.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            raise ValidationFailed("the body is not valid JSON", code="request.invalid_json") from exc
        fields = {".".join(str(p) for p in err["loc"]) or "body": str(err["msg"]) for err in exc.errors()}
        raise ValidationFailed("some fields are invalid", fields=fields) from exc


async def _read(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(f"the request body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _cookies(header: str) -> dict[str, str]:
    """The two cookies we need, read plainly (both are URL-safe tokens; anything odd simply does not match)."""
    found = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name in (SESSION_COOKIE, csrf.COOKIE):
            found[name] = value.strip('"')
    return found


def in_front(app: FastAPI) -> ASGIApp:
    """The app as a server should run it: flash attempts answered ahead of every layer FastAPI and Starlette
    put above the middlewares (FastAPI's telemetry check, Starlette's error middleware, about 10 µs per
    request); everything else, lifespan included, goes to the app, where the same handler sits outermost
    among the middlewares for whoever calls the app itself (the tests do)."""
    return FlashFastPath(app, app.state.ctx)
