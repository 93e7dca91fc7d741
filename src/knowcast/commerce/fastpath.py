"""The flash-sale attempt as a plain ASGI handler, ahead of the whole app.

A flash sale is the one request that arrives ten thousand times in a second. The middleware stack, routing
through ~150 routes, dependency injection and response-model validation cost several times more than the
gate itself, so this handler serves ``POST /api/v1/flash-sales/<id>/attempts`` (JSON) before all of them,
as the real-time plane's LiveSockets does for its WebSockets. It does what the skipped layers would do for
it — counts and times the request in the app's metrics, adds the security headers and a request id, caps
the body — and applies exactly the checks of the FastAPI route it stands in front of (room_routes.attempt,
which stays registered, documented and guarded): a session (buyers.CACHE, else batched database lookups), the CSRF
header (csrf.check), the AttemptIn schema, the same service call, the same error answers (errors.json_response,
through knowcast/fast_paths.py). It writes no access-log line per attempt (the metrics count them); its body
limit is its own (MAX_BODY, far below the app's). tests/test_fast_paths.py sends the same requests through it and
through the route and compares the answers. Anything else — another path, another method, a form body, an id
past MAX_ROW_ID — passes through untouched.

It is installed once, by create_app, ahead of the app itself (``KnowcastApp.front``), so that an attempt does not
pass FastAPI's and Starlette's own outer layers either (FastAPI's telemetry check, Starlette's error
middleware); `knowcast serve`, its workers, the tests and the benchmarks all call that app. Per attempt it
allocates what it must and little else: the answers without an order are encoded once, metric children are
looked up once, request ids come from a counter.
docs/benchmarks.md "Flash sale" has what an attempt costs, layer by layer.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from knowcast import csrf, fast_paths
from knowcast.commerce import flash
from knowcast.commerce.flash_gate import Outcome
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.schemas import AttemptIn, AttemptOut
from knowcast.context import AppContext
from knowcast.db.types import MAX_ROW_ID
from knowcast.deps import SESSION_COOKIE
from knowcast.errors import AuthenticationRequired, KnowcastError, as_error

log = logging.getLogger(__name__)
PATH = re.compile(r"^/api/v1/flash-sales/([1-9][0-9]{0,9})/attempts$")
MAX_BODY = 4096

ROUTE = "/api/v1/flash-sales/{sale_id}/attempts"  # the metrics label, as the access log would write it
# what most of a crowd hears (no order in it), encoded once: the same bytes the route would send
ANSWERS = {outcome: AttemptOut(outcome=outcome).model_dump_json().encode() for outcome in Outcome}


class FlashFastPath:
    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        self.switch = ctx.runtime(fast_paths.FastPaths)
        self.metrics = ctx.metrics
        self.ids = fast_paths.RequestIds()
        self.sessions = ctx.runtime(CommerceRuntime).sessions
        self.security = fast_paths.raw_security_headers(ctx.settings)
        self.answer_headers = {body: self.headers(body) for body in ANSWERS.values()}
        self._observe = ctx.metrics.latency.labels("POST", ROUTE).observe
        self._counters: dict[int, Callable[[], None]] = {}

    def headers(self, body: bytes) -> fast_paths.RawHeaders:
        return [*fast_paths.json_headers(body), *self.security]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        on = self.switch.on and scope["type"] == "http" and scope["method"] == "POST"
        match = PATH.match(scope["path"]) if on else None
        headers = dict(scope["headers"]) if match else {}
        sale_id = int(match.group(1)) if match else 0
        if not 0 < sale_id <= MAX_ROW_ID or not headers.get(b"content-type", b"").startswith(b"application/json"):
            await self.app(scope, receive, send)  # the route answers the rest (and refuses ids past MAX_ROW_ID)
            return
        started = time.perf_counter()
        status, body, out = await self._answer(sale_id, headers, receive)
        out.append((b"x-request-id", self.ids.of(headers)))
        await fast_paths.send_answer(send, status, out, body)
        self._count(status)
        self._observe(time.perf_counter() - started)

    def _count(self, status: int) -> None:
        inc = self._counters.get(status)
        if inc is None:
            inc = self._counters[status] = self.metrics.requests.labels("POST", ROUTE, str(status)).inc
        inc()

    async def _answer(
        self, sale_id: int, headers: dict[bytes, bytes], receive: Receive
    ) -> tuple[int, bytes, fast_paths.RawHeaders]:
        try:
            body = await self._attempt(sale_id, headers, receive)
            known = self.answer_headers.get(body)
            return 200, body, [*known] if known else self.headers(body)
        except Exception as exc:
            if not isinstance(exc, KnowcastError):
                log.exception("flash attempt failed", extra={"sale_id": sale_id})
            status, body, out = fast_paths.error_answer(as_error(exc))
            return status, body, [*out, *self.security]

    async def _attempt(self, sale_id: int, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        cookies = fast_paths.cookies(headers)
        user_id = await self._user_id(cookies.get(SESSION_COOKIE))
        csrf.check_headers(self.ctx.settings.secret_key, headers, cookies)
        data = AttemptIn.model_validate_json(await fast_paths.read_body(receive, MAX_BODY) or b"{}")
        result = await flash.attempt(self.ctx, user_id, sale_id, data.quantity, data.idempotency_key, None)
        if result.summary is None:
            return ANSWERS[result.outcome]
        return AttemptOut(outcome=result.outcome, order=result.summary).model_dump_json().encode()

    async def _user_id(self, token: str | None) -> int:
        user_id = await self.sessions.user_id(token) if token else None
        if user_id is None:
            raise AuthenticationRequired("sign in first")
        return user_id
