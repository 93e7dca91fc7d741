"""Sign in, sign up, sign out, the account page and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from knowcast import i18n
from knowcast.accounts import service
from knowcast.accounts.cookies import clear_session_cookie, set_session_cookie
from knowcast.accounts.schemas import PasswordChange, ProfileUpdate, SignIn, SignUp
from knowcast.deps import SESSION_COOKIE, Ctx, CurrentUser, Db, MaybeUser, Public, client_ip
from knowcast.errors import KnowcastError
from knowcast.web.pages.forms import form_values, parse
from knowcast.web.templating import pages_of as pages

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only same-site paths may be redirected to after sign-in: an absolute path, not ``//host`` nor ``/\\host``
    (browsers read a backslash as a slash), no control characters, and never back to the sign-in pages."""
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in ("/signin", "/signup", "/signout"):
        return "/"
    return target


@router.get("/signin", dependencies=[Public])
async def signin_page(request: Request, _user: MaybeUser, next: str | None = None) -> Response:
    return pages(request).render(request, "signin.html", next=safe_next(next), values={}, error=None)


@router.post("/signin", dependencies=[Public])
async def signin(request: Request, ctx: Ctx, db: Db, _user: MaybeUser) -> Response:
    values = await form_values(request)
    target = safe_next(values.get("next"))
    try:
        new = await service.sign_in(
            db, ctx, parse(SignIn, values), client_ip(request), request.headers.get("user-agent")
        )
    except KnowcastError as error:
        values.pop("password", None)
        return pages(request).render(request, "signin.html", error.status_code, next=target, values=values, error=error)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, new.token, ctx.settings)
    return response


@router.get("/signup", dependencies=[Public])
async def signup_page(request: Request, _user: MaybeUser, next: str | None = None) -> Response:
    return pages(request).render(request, "signup.html", next=safe_next(next), values={}, error=None)


@router.post("/signup", dependencies=[Public])
async def signup(request: Request, ctx: Ctx, db: Db, _user: MaybeUser) -> Response:
    values = await form_values(request)
    target = safe_next(values.get("next"))
    try:
        new = await service.sign_up(db, ctx, parse(SignUp, values), client_ip(request), locale=request.state.locale)
    except KnowcastError as error:
        values.pop("password", None)
        return pages(request).render(request, "signup.html", error.status_code, next=target, values=values, error=error)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, new.token, ctx.settings)
    return response


@router.post("/signout")
async def signout(request: Request, ctx: Ctx, db: Db, _user: CurrentUser) -> Response:
    await service.sign_out(db, ctx, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, ctx.settings)
    return response


@router.get("/account")
async def account_page(request: Request, _user: CurrentUser) -> Response:
    return pages(request).render(request, "account.html", error=None, saved=False)


@router.post("/account/password")
async def account_password(request: Request, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    try:
        data = parse(PasswordChange, await form_values(request))
        new = await service.change_password(db, ctx, user, data, client_ip(request))
    except KnowcastError as error:
        return pages(request).render(request, "account.html", error.status_code, error=error, saved=False)
    response = pages(request).render(request, "account.html", error=None, saved=True)
    set_session_cookie(response, new.token, ctx.settings)
    return response


@router.post("/locale", dependencies=[Public])
async def switch_locale(request: Request, db: Db, user: MaybeUser) -> Response:
    """Anyone may switch language; a signed-in user's choice is also saved on the account."""
    values = await form_values(request)
    locale = values.get("locale") if values.get("locale") in i18n.LOCALES else None
    response = RedirectResponse(safe_next(values.get("next")), status_code=303)
    if locale:
        if user is not None:
            await service.update_profile(db, user, ProfileUpdate(locale=locale))
        response.set_cookie(i18n.LOCALE_COOKIE, locale, max_age=365 * 86400, samesite="lax")
    return response
