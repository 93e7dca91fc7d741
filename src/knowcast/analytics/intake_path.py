"""The browser event intake (``POST /api/v1/analytics/events``) as a plain ASGI handler, ahead of the app.

Every viewer's page posts its ``view_start`` on arrival, so a join storm brings ten thousand of these a
minute. This answers a well-formed batch (JSON, the CSRF header matching its cookie, no API token) without
the middleware stack, routing and dependency injection, and resolves the session cookie in batches
(accounts.identities) instead of two queries per request; the intake itself (checks, sequencing, the
pseudonymous visitor id, metrics) is the route's own: ``visit_of`` and ``Intake.accept``. Anything else — a
bad token, a body that is not a valid batch, a form, an API token — is handed to the FastAPI route
(analytics.routes.intake, the reference) with the body it sent, so its errors are the route's.
tests/analytics/test_intake_path.py and tests/test_fast_paths.py check that both answer alike.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowcast import csrf, fast_paths
from knowcast.accounts.identities import IdentityLookups
from knowcast.analytics.routes import visit_of
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.schemas import EventBatch
from knowcast.context import AppContext
from knowcast.deps import SESSION_COOKIE

log = logging.getLogger(__name__)
PATH = "/api/v1/analytics/events"
MAX_BODY = 16384  # a page's batch is far smaller; a larger body goes to the route as it is


class IntakeFastPath:
    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        self.switch = ctx.runtime(fast_paths.FastPaths)
        self.ids = fast_paths.RequestIds()
        self.security = fast_paths.raw_security_headers(ctx.settings)
        self._count: Callable[[], None] = ctx.metrics.requests.labels("POST", PATH, "202").inc
        self._observe = ctx.metrics.latency.labels("POST", PATH).observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH or not self.switch.on:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        raw, whole = await _read_up_to(receive, MAX_BODY)
        body = await self._answer(scope, headers, raw) if whole else None
        if body is None:  # the route answers, reading what this handler read and then the rest, if any
            await self.app(scope, _replay(raw, whole, receive), send)
            return
        out = [*fast_paths.json_headers(body), *self.security, (b"x-request-id", self.ids.of(headers))]
        await fast_paths.send_answer(send, 202, out, body)
        self._count()
        self._observe(time.perf_counter() - started)

    async def _answer(self, scope: Scope, headers: dict[bytes, bytes], raw: bytes) -> bytes | None:
        """The intake's answer, or None when the route must answer (see the module's docstring)."""
        if b"authorization" in headers or not headers.get(b"content-type", b"").startswith(b"application/json"):
            return None
        request = Request(scope)  # visit_of reads it; its cookies are Starlette's cookie_parser's
        cookies = request.cookies
        if not csrf.passes(self.ctx.settings.secret_key, cookies.get(csrf.COOKIE), csrf.sent_header(headers)):
            return None
        try:
            batch = EventBatch.model_validate_json(raw)
        except ValidationError:
            return None
        token = cookies.get(SESSION_COOKIE)
        who = await self.ctx.runtime(IdentityLookups).get(token) if token else None
        intake = self.ctx.runtime(AnalyticsRuntime).intake
        assert intake is not None
        async with self.ctx.db.session() as db:  # connects only if the visitor's salt must be read
            visit = await visit_of(request, self.ctx, db, who.user_id if who else None)
        result = await intake.accept(visit, batch.events)
        return json.dumps(result.model_dump(), separators=(",", ":")).encode()


async def _read_up_to(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, or its first chunks once they pass ``limit``; and whether that is the whole body."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body"):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replay(raw: bytes, whole: bool, receive: Receive) -> Receive:
    """A receive that gives the app what this handler already read, then goes on with the real connection: the
    rest of a body too large for this handler (the app's own limits answer it), or the disconnect (a made-up
    one would make the app's middleware drop its answer: the client then waits for nothing)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": raw, "more_body": not whole}

    return replayed
