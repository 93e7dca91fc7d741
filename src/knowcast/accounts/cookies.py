"""The session cookie: HttpOnly, SameSite=Lax, Secure whenever the site is served over https."""

from __future__ import annotations

from starlette.responses import Response

from knowcast.deps import SESSION_COOKIE
from knowcast.settings import Settings


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/")
