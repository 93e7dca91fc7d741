"""The flash-sale attempt as a plain ASGI handler, the outermost layer of the app.

A flash sale is the one request that arrives ten thousand times in a second. The middleware stack, routing
through ~150 routes, dependency injection and response-model validation cost several times more than the
gate itself, so this handler serves ``POST /api/v1/flash-sales/<id>/attempts`` (JSON) before all of them,
as the real-time plane's LiveSockets does for its WebSockets. It does what the skipped layers would do for
it — counts and times the request in the app's metrics, adds the security headers and a request id, caps
the body — and applies exactly the checks of the FastAPI route it stands in front of (room_routes.attempt,
which stays registered, documented and guarded): a session (buyers.CACHE, else the database), the CSRF
header, the AttemptIn schema, the same service call, the same error bodies. It writes no access-log line
per attempt (the metrics count them). tests/commerce/test_fastpath.py checks that both paths answer alike.
Anything else — another path, another method, a form body — passes through untouched.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowcast import csrf, middleware
from knowcast.accounts import service as accounts
from knowcast.commerce import flash
from knowcast.commerce.buyers import CACHE
from knowcast.commerce.schemas import AttemptIn, AttemptOut
from knowcast.context import AppContext
from knowcast.deps import SESSION_COOKIE
from knowcast.errors import AuthenticationRequired, CsrfFailed, KnowcastError, PayloadTooLarge, ValidationFailed
from knowcast.timing import same_secret

log = logging.getLogger(__name__)
PATH = re.compile(r"^/api/v1/flash-sales/([1-9][0-9]{0,17})/attempts$")
MAX_BODY = 4096


ROUTE = "/api/v1/flash-sales/{sale_id}/attempts"  # the metrics label, as the access log would write it
SECURITY_HEADERS = [(name.encode(), value.encode()) for name, value in middleware.SECURITY_HEADERS.items()]


class FlashFastPath:
    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        self.metrics = ctx.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        headers = dict(scope["headers"]) if match else {}
        if match is None or not headers.get(b"content-type", b"").startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, body, extra = await self._answer(int(match.group(1)), headers, receive)
        request_id = headers.get(b"x-request-id") or secrets.token_hex(8).encode()
        await _respond(send, status, body, [(b"x-request-id", request_id[:64]), *extra])
        self.metrics.requests.labels("POST", ROUTE, str(status)).inc()
        self.metrics.latency.labels("POST", ROUTE).observe(time.perf_counter() - started)

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
        token = cookies.get(SESSION_COOKIE)
        user_id = await self._user_id(token)
        sent = headers.get(csrf.HEADER.encode(), b"").decode("latin-1")
        nonce = cookies.get(csrf.COOKIE)
        if not nonce or not sent or not same_secret(sent, csrf.token_for(self.ctx.settings.secret_key, nonce)):
            raise CsrfFailed("the form has expired or did not come from this site; reload the page and try again")
        data = _parse(await _read(receive))
        result = await flash.attempt(self.ctx, user_id, sale_id, data.quantity, data.idempotency_key, None)
        return AttemptOut(outcome=result.outcome, order=result.summary).model_dump_json().encode()

    async def _user_id(self, token: str | None) -> int:
        if not token:
            raise AuthenticationRequired("sign in first")
        user_id = CACHE.get(token)
        if user_id is not None:
            return user_id
        async with self.ctx.db.session() as session:
            user = await accounts.resolve_session(session, token)
        if user is None:
            raise AuthenticationRequired("sign in first")
        CACHE.put(token, user.id)
        return user.id


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


async def _respond(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    start: Message = {"type": "http.response.start", "status": status, "headers": headers + SECURITY_HEADERS + extra}
    await send(start)
    await send({"type": "http.response.body", "body": body})
