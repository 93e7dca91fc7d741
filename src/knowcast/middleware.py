"""ASGI middleware: body-size limit, request context (id, locale, CSRF cookie), security headers."""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowcast import csrf, i18n
from knowcast.errors import PayloadTooLarge, json_response

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "SAMEORIGIN",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self' ws: wss:; "
        "frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
    ),
}


def security_headers(media_origin: str = "", connect_origin: str = "") -> dict[str, str]:
    """The headers every answer carries (the fast paths add the same ones themselves): with a download origin,
    bought files (course videos among them) may play from it; with a connect origin (Janus's HTTP API in scaled
    mode, when browsers reach it on another origin), pages may call it."""
    headers = dict(SECURITY_HEADERS)
    csp = headers["content-security-policy"]
    if media_origin:
        csp = csp.replace("media-src 'self'", f"media-src 'self' {media_origin}")
    if connect_origin:
        csp = csp.replace("connect-src 'self'", f"connect-src 'self' {connect_origin}")
    headers["content-security-policy"] = csp
    return headers


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        is_upload = headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.upload_max_bytes + 65536 if is_upload else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await json_response(PayloadTooLarge(f"the request body is larger than {limit} bytes"))(scope, receive, send)
            return
        received = 0
        too_large = PayloadTooLarge(f"the request body is larger than {limit} bytes")
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise too_large
            return message

        async def guarded_send(message: Message) -> None:
            # whatever the app made of the interrupted read (a 400, a 500), the answer is this 413
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start":
                await json_response(too_large)(scope, receive, send)

        await self.app(scope, limited_receive, guarded_send)


class RequestContextMiddleware:
    """Gives each request an id, a locale and a CSRF nonce cookie, and adds the security headers."""

    def __init__(
        self, app: ASGIApp, default_locale: str, secure_cookies: bool, media_origin: str = "", connect_origin: str = ""
    ) -> None:
        self.app = app
        self.default_locale = default_locale
        self.secure_cookies = secure_cookies
        self.headers = security_headers(media_origin, connect_origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = cookie_parser(headers.get("cookie", ""))
        state = scope.setdefault("state", {})
        # the client's id, its first 64 characters (as the fast paths keep it: fast_paths.RequestIds.of)
        state["request_id"] = headers.get("x-request-id", "")[:64] or secrets.token_hex(8)
        state["locale"] = i18n.negotiate(
            None, cookies.get(i18n.LOCALE_COOKIE), headers.get("accept-language"), self.default_locale
        )
        new_nonce = None if cookies.get(csrf.COOKIE) else csrf.new_nonce()
        if new_nonce:
            state["csrf_nonce"] = new_nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    out.setdefault(name, value)
                out["x-request-id"] = state["request_id"]
                if new_nonce:
                    secure = "; Secure" if self.secure_cookies else ""
                    out.append("set-cookie", f"{csrf.COOKIE}={new_nonce}; Path=/; HttpOnly; SameSite=Lax{secure}")
            await send(message)

        await self.app(scope, receive, send_with_headers)
