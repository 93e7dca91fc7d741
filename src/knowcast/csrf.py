"""CSRF protection by signed double submit.

Every browser gets a random ``kc_csrf`` cookie (HttpOnly). Pages embed ``token_for(nonce)``, an HMAC of that
cookie under the secret key, in forms (``csrf_token``) and in a meta tag that scripts send back as the
``X-CSRF-Token`` header. A cross-site page can make the browser send the cookie but cannot read it, so it
cannot produce the matching token.

``check`` is the one check, on what the request carries: the routed path (``verify``, which also reads the form
field) and the fast paths (``check_headers``, on raw ASGI headers) both end in it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from starlette.requests import Request

from knowcast.errors import CsrfFailed
from knowcast.timing import same_secret

COOKIE = "kc_csrf"
HEADER = "x-csrf-token"
RAW_HEADER = HEADER.encode()
FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MESSAGE = "the form has expired or did not come from this site; reload the page and try again"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def token_for(secret_key: str, nonce: str) -> str:
    return hmac.new(secret_key.encode(), b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def request_nonce(request: Request) -> str:
    """The nonce for this request: the cookie's, or the fresh one the middleware is about to set."""
    nonce = getattr(request.state, "csrf_nonce", None) or request.cookies.get(COOKIE)
    if not nonce:
        nonce = new_nonce()
        request.state.csrf_nonce = nonce
    return str(nonce)


def passes(secret_key: str, nonce: str | None, sent: str | None) -> bool:
    """Whether ``sent`` is the token for the cookie's ``nonce`` (compared in constant time)."""
    return bool(nonce) and bool(sent) and same_secret(str(sent), token_for(secret_key, str(nonce)))


def check(secret_key: str, nonce: str | None, sent: str | None) -> None:
    """Raise CsrfFailed unless ``sent`` is the token for the cookie's ``nonce``."""
    if not passes(secret_key, nonce, sent):
        raise CsrfFailed(MESSAGE)


def sent_header(headers: Mapping[bytes, bytes]) -> str | None:
    """The token in the X-CSRF-Token header of raw ASGI headers, if any."""
    sent = headers.get(RAW_HEADER)
    return sent.decode("latin-1") if sent is not None else None


def check_headers(secret_key: str, headers: Mapping[bytes, bytes], cookies: Mapping[str, str]) -> None:
    """``check`` for a fast path: the header of raw ASGI headers against the cookie (no form bodies there)."""
    check(secret_key, cookies.get(COOKIE), sent_header(headers))


async def verify(request: Request, secret_key: str) -> None:
    """Raise CsrfFailed unless a state-changing request carries the token for its cookie."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await request.form()
        value = form.get(FORM_FIELD)
        sent = value if isinstance(value, str) else None
    check(secret_key, request.cookies.get(COOKIE), sent)
