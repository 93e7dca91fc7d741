"""CSRF protection by signed double submit.

Every browser gets a random ``kc_csrf`` cookie (HttpOnly). Pages embed ``token_for(nonce)``, an HMAC of that
cookie under the secret key, in forms (``csrf_token``) and in a meta tag that scripts send back as the
``X-CSRF-Token`` header. A cross-site page can make the browser send the cookie but cannot read it, so it
cannot produce the matching token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

from knowcast.errors import CsrfFailed
from knowcast.timing import same_secret

COOKIE = "kc_csrf"
HEADER = "x-csrf-token"
FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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


async def verify(request: Request, secret_key: str) -> None:
    """Raise CsrfFailed unless a state-changing request carries the token for its cookie."""
    if request.method in SAFE_METHODS:
        return
    nonce = request.cookies.get(COOKIE)
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await request.form()
        value = form.get(FORM_FIELD)
        sent = value if isinstance(value, str) else None
    if not nonce or not sent or not same_secret(sent, token_for(secret_key, nonce)):
        raise CsrfFailed("the form has expired or did not come from this site; reload the page and try again")
