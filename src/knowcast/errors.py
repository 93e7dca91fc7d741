"""The one error hierarchy. Every error has a stable ``code``; this module alone maps them to HTTP.

    KnowcastError
    ├── ConfigError                 config.invalid          (start-up only)
    ├── ValidationFailed            request.invalid   422
    ├── PayloadTooLarge             request.too_large 413
    ├── AuthenticationRequired      auth.required     401
    ├── InvalidCredentials          auth.invalid_credentials 401
    ├── CsrfFailed                  auth.csrf_failed  403
    ├── PermissionDenied            auth.forbidden    403
    ├── NotFound                    <thing>.not_found 404
    ├── Conflict                    <thing>.conflict  409  (email taken, illegal transition, ...)
    ├── RateLimited                 rate_limited      429
    └── ServiceUnavailable          service.unavailable 503

Services raise these with specific codes (``room.illegal_transition``); they never know HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response


class KnowcastError(Exception):
    """Base of every error Knowcast raises on purpose."""

    status_code = 500
    code = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = fields
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}


class ConfigError(KnowcastError):
    code = "config.invalid"


class ValidationFailed(KnowcastError):
    status_code = 422
    code = "request.invalid"


class PayloadTooLarge(KnowcastError):
    status_code = 413
    code = "request.too_large"


class AuthenticationRequired(KnowcastError):
    status_code = 401
    code = "auth.required"


class InvalidCredentials(KnowcastError):
    status_code = 401
    code = "auth.invalid_credentials"


class CsrfFailed(KnowcastError):
    status_code = 403
    code = "auth.csrf_failed"


class PermissionDenied(KnowcastError):
    status_code = 403
    code = "auth.forbidden"


class NotFound(KnowcastError):
    status_code = 404
    code = "not_found"


class Conflict(KnowcastError):
    status_code = 409
    code = "conflict"


class RateLimited(KnowcastError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class ServiceUnavailable(KnowcastError):
    status_code = 503
    code = "service.unavailable"


# ---- the one place errors become HTTP responses -------------------------------------------------------------

HtmlRenderer = Callable[[Request, int, str, str], Awaitable[Response]]
log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "request.bad",
    401: "auth.required",
    403: "auth.forbidden",
    404: "not_found",
    405: "request.method_not_allowed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    429: "rate_limited",
}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/media/", "/whip/", "/whep/")) or request.url.path in (
        "/healthz",
        "/metrics",
    ):
        return True  # machine paths: players and API clients want the coded JSON, never a page or a redirect
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _validation_fields(exc: RequestValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "form")]
        fields[".".join(loc) or "body"] = str(err.get("msg", "invalid"))
    return fields


def _from_validation(exc: RequestValidationError) -> KnowcastError:
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return ValidationFailed("the body is not valid JSON", code="request.invalid_json")
    return ValidationFailed("some fields are invalid", fields=_validation_fields(exc))


def install_handlers(app: FastAPI, render_html: HtmlRenderer) -> None:
    """Map every error to ``{"error": {"code", "message", "fields"}}`` or, for pages, a friendly page."""

    async def respond(request: Request, error: KnowcastError) -> Response:
        if wants_json(request):
            return JSONResponse(error.to_dict(), status_code=error.status_code, headers=error.headers)
        response = await render_html(request, error.status_code, error.code, error.message)
        response.headers.update(error.headers)
        return response

    async def on_knowcast(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KnowcastError)
        return await respond(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return await respond(request, _from_validation(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error = KnowcastError(str(exc.detail), code=HTTP_CODES.get(exc.status_code, "request.bad"))
        error.status_code = exc.status_code
        return await respond(request, error)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return await respond(request, KnowcastError("something went wrong on our side; it has been logged"))

    app.add_exception_handler(KnowcastError, on_knowcast)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
