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

Services raise these with specific codes (``room.illegal_transition``); they never know HTTP. A code is a
member of a ``StrEnum``: ``ErrorCode`` below for these and the shared ones, and one per domain for its own
(``knowcast/<domain>/errors.py``: ``CommerceCode.FLASH_NOT_FOUND`` is ``"flash.not_found"``). Their values are
the wire's, a contract with API clients; docs/api.md lists them all (tests/test_error_codes.py checks both).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response


class ErrorCode(StrEnum):
    """The codes of the hierarchy itself and those every domain shares (request, auth, audiences)."""

    AUDIENCE_UNKNOWN = "audience.unknown"
    AUTH_CSRF_FAILED = "auth.csrf_failed"
    AUTH_FORBIDDEN = "auth.forbidden"
    AUTH_INVALID_CREDENTIALS = "auth.invalid_credentials"
    AUTH_REQUIRED = "auth.required"
    AUTH_SIGNIN_RATE_LIMITED = "auth.signin_rate_limited"
    CONFIG_INVALID = "config.invalid"
    CONFLICT = "conflict"
    INTERNAL = "internal"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    REQUEST_BAD = "request.bad"
    REQUEST_INVALID = "request.invalid"
    REQUEST_INVALID_JSON = "request.invalid_json"
    REQUEST_METHOD_NOT_ALLOWED = "request.method_not_allowed"
    REQUEST_TOO_LARGE = "request.too_large"
    REQUEST_UNSUPPORTED_MEDIA_TYPE = "request.unsupported_media_type"
    SERVICE_UNAVAILABLE = "service.unavailable"


class KnowcastError(Exception):
    """Base of every error Knowcast raises on purpose."""

    status_code = 500
    code: str = ErrorCode.INTERNAL

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
    code: str = ErrorCode.CONFIG_INVALID


class ValidationFailed(KnowcastError):
    status_code = 422
    code: str = ErrorCode.REQUEST_INVALID


class PayloadTooLarge(KnowcastError):
    status_code = 413
    code: str = ErrorCode.REQUEST_TOO_LARGE


class AuthenticationRequired(KnowcastError):
    status_code = 401
    code: str = ErrorCode.AUTH_REQUIRED


class InvalidCredentials(KnowcastError):
    status_code = 401
    code: str = ErrorCode.AUTH_INVALID_CREDENTIALS


class CsrfFailed(KnowcastError):
    status_code = 403
    code: str = ErrorCode.AUTH_CSRF_FAILED


class PermissionDenied(KnowcastError):
    status_code = 403
    code: str = ErrorCode.AUTH_FORBIDDEN


class NotFound(KnowcastError):
    status_code = 404
    code: str = ErrorCode.NOT_FOUND


class Conflict(KnowcastError):
    status_code = 409
    code: str = ErrorCode.CONFLICT


class RateLimited(KnowcastError):
    status_code = 429
    code: str = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class ServiceUnavailable(KnowcastError):
    status_code = 503
    code: str = ErrorCode.SERVICE_UNAVAILABLE


# ---- the one place errors become HTTP responses -------------------------------------------------------------

HtmlRenderer = Callable[[Request, int, str, str], Awaitable[Response]]
log = logging.getLogger(__name__)

HTTP_CODES = {
    400: ErrorCode.REQUEST_BAD,
    401: ErrorCode.AUTH_REQUIRED,
    403: ErrorCode.AUTH_FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.REQUEST_METHOD_NOT_ALLOWED,
    413: ErrorCode.REQUEST_TOO_LARGE,
    415: ErrorCode.REQUEST_UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/media/", "/whip/", "/whep/", "/janus/")) or request.url.path in (
        "/healthz",
        "/metrics",
    ):
        return True  # machine paths: players and API clients want the coded JSON, never a page or a redirect
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def validation_failed(errors: Iterable[Mapping[str, Any]]) -> ValidationFailed:
    """The one shape of a refused body, from pydantic's or FastAPI's error list: bad JSON, or the fields."""
    errors = list(errors)
    if any(err.get("type") == "json_invalid" for err in errors):
        return ValidationFailed("the body is not valid JSON", code=ErrorCode.REQUEST_INVALID_JSON)
    fields: dict[str, str] = {}
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "form")]
        fields[".".join(loc) or "body"] = str(err.get("msg", "invalid"))
    return ValidationFailed("some fields are invalid", fields=fields)


def as_error(exc: Exception) -> KnowcastError:
    """Whatever a request raised, as the KnowcastError it is answered with (an unexpected one is logged as such
    by whoever caught it, and answered with the generic 500)."""
    if isinstance(exc, KnowcastError):
        return exc
    if isinstance(exc, RequestValidationError | ValidationError):
        return validation_failed(exc.errors())
    if isinstance(exc, StarletteHTTPException):
        error = KnowcastError(str(exc.detail), code=HTTP_CODES.get(exc.status_code, ErrorCode.REQUEST_BAD))
        error.status_code = exc.status_code
        return error
    return KnowcastError("something went wrong on our side; it has been logged")


def json_body(error: KnowcastError) -> bytes:
    """The error's JSON body, encoded as Starlette's JSONResponse encodes (compact, UTF-8)."""
    return json.dumps(error.to_dict(), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def json_response(error: KnowcastError) -> Response:
    """The one error-to-response function for JSON: the app's exception handlers and every fast path
    (knowcast/fast_paths.py) answer an error with exactly this status, body and headers."""
    return Response(
        json_body(error), status_code=error.status_code, headers=error.headers, media_type="application/json"
    )


def install_handlers(app: FastAPI, render_html: HtmlRenderer) -> None:
    """Map every error to ``{"error": {"code", "message", "fields"}}`` or, for pages, a friendly page."""

    async def respond(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, KnowcastError | RequestValidationError | StarletteHTTPException):
            log.error("unhandled error", extra={"path": request.url.path}, exc_info=exc)
        error = as_error(exc)
        if wants_json(request):
            return json_response(error)
        response = await render_html(request, error.status_code, error.code, error.message)
        response.headers.update(error.headers)
        return response

    for kind in (KnowcastError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, respond)
