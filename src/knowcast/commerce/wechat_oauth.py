"""The buyer's openid for WeChat Pay JSAPI, from the Official Account's silent ``snsapi_base`` authorization.

Inside WeChat's browser, JSAPI payment needs the payer's openid (per Official Account). The checkout sends a
buyer without one to ``/pay/wechat/oauth?order=<id>&next=<checkout page>``; that redirects to WeChat's
authorize page (``scope=snsapi_base``: no prompt, WeChat sends the browser straight back with a code), and
the callback trades the code for the openid (``/sns/oauth2/access_token``), keeps it in a signed, HttpOnly
cookie bound to the account and the AppID, and returns to the checkout page.

The openid lives in the browser rather than the database: it names the WeChat user holding this phone, and
WeChat hands it out again silently whenever it is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Annotated
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.context import AppContext
from knowcast.deps import Ctx, CurrentUser, get_ctx
from knowcast.errors import Conflict, ErrorCode, ServiceUnavailable, ValidationFailed
from knowcast.settings import Settings
from knowcast.timing import same_secret

log = logging.getLogger(__name__)
router = APIRouter(tags=["payments"])
OPENID_COOKIE = "kc_wx_openid"
STATE_COOKIE = "kc_wx_state"
OPENID_DAYS = 30
STATE_SECONDS = 600


def _mac(secret: str, *parts: str) -> str:
    message = "\n".join(("wechat-openid", *parts)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def cookie_value(settings: Settings, user_id: int, openid: str, now: float | None = None) -> str:
    expires = str(int((now or time.time()) + OPENID_DAYS * 86400))
    mac = _mac(settings.secret_key, str(user_id), str(settings.wechat_appid), openid, expires)
    return f"{openid}.{expires}.{mac}"


def openid_from(settings: Settings, user_id: int, value: str | None, now: float | None = None) -> str | None:
    """The openid in a cookie made by ``cookie_value`` for this account and AppID, unexpired; else None."""
    openid, _, rest = (value or "").rpartition(".")
    openid, _, expires = openid.rpartition(".")
    if not openid or not expires.isdigit() or int(expires) < (now or time.time()):
        return None
    expected = _mac(settings.secret_key, str(user_id), str(settings.wechat_appid), openid, expires)
    return openid if same_secret(rest, expected) else None


async def openid_of(request: Request, db: AsyncSession, user: User) -> str | None:
    """The checkout's lookup (CommerceRuntime.openid_lookup): this buyer's openid in this browser, if known."""
    return openid_from(get_ctx(request).settings, user.id, request.cookies.get(OPENID_COOKIE))


def install(ctx: AppContext) -> None:
    """Let the checkout find the payer's openid (called when the WeChat provider is enabled)."""
    ctx.runtime(CommerceRuntime).openid_lookup = openid_of


def _local(path: str) -> str:
    """Only a path on this site (never another host: no open redirect)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(c in path for c in "\r\n"):
        raise ValidationFailed(
            "next must be a path on this site", code=ErrorCode.REQUEST_INVALID, fields={"next": path}
        )
    return path


def _configured(ctx: AppContext) -> Settings:
    settings = ctx.settings
    if (
        "wechat" not in ctx.runtime(CommerceRuntime).providers
        or not settings.wechat_appid
        or not settings.wechat_app_secret
    ):
        raise Conflict(
            "paying inside WeChat is not set up (KNOWCAST_WECHAT_APPID and KNOWCAST_WECHAT_APP_SECRET)",
            code=CommerceCode.PAYMENT_WECHAT_OAUTH_UNAVAILABLE,
        )
    return settings


@router.get("/pay/wechat/oauth", include_in_schema=False)
async def authorize(
    ctx: Ctx,
    user: CurrentUser,
    order: Annotated[int, Query(ge=1)],
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> RedirectResponse:
    """Send the buyer through WeChat's silent authorization, back to ``next`` (default: the checkout page)."""
    settings = _configured(ctx)
    back = _local(next or f"/checkout/{order}")
    state = secrets.token_urlsafe(16)
    callback = f"{settings.public_url.rstrip('/')}/pay/wechat/oauth/callback?{urlencode({'next': back})}"
    # WeChat wants exactly these parameters, in this order, and the #wechat_redirect fragment
    query = urlencode(
        {
            "appid": settings.wechat_appid,
            "redirect_uri": callback,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
        }
    )
    url = f"{settings.wechat_oauth_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        STATE_COOKIE,
        f"{user.id}.{state}",
        max_age=STATE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/pay/wechat",
    )
    return response


@router.get("/pay/wechat/oauth/callback", include_in_schema=False)
async def callback(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    next: Annotated[str, Query(max_length=500)] = "/orders",
    code: Annotated[str | None, Query(max_length=256)] = None,
    state: Annotated[str, Query(max_length=128)] = "",
) -> RedirectResponse:
    """WeChat came back with a code: trade it for the openid, keep it, and return to the checkout."""
    settings = _configured(ctx)
    back = _local(next)
    if not same_secret(request.cookies.get(STATE_COOKIE, ""), f"{user.id}.{state}") or not state:
        raise ValidationFailed(
            "this WeChat sign-in did not start here; try paying again", code=CommerceCode.PAYMENT_OAUTH_STATE
        )
    if not code:  # the user refused (only possible with snsapi_userinfo) or WeChat failed
        raise Conflict("WeChat did not confirm who is paying; try again", code=CommerceCode.PAYMENT_OAUTH_DENIED)
    openid = await exchange(ctx, code)
    # the checkout page carries on paying with JSAPI by itself (the buyer already chose to pay)
    response = RedirectResponse(f"{back}{'&' if '?' in back else '?'}pay=wechat_jsapi", status_code=303)
    response.delete_cookie(STATE_COOKIE, path="/pay/wechat")
    response.set_cookie(
        OPENID_COOKIE,
        cookie_value(settings, user.id, openid),
        max_age=OPENID_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    return response


async def exchange(ctx: AppContext, code: str) -> str:
    """``/sns/oauth2/access_token``: the code (single use, five minutes) for the openid."""
    settings = ctx.settings
    params = {
        "appid": settings.wechat_appid,
        "secret": settings.wechat_app_secret,
        "code": code,
        "grant_type": "authorization_code",
    }
    url = f"{settings.wechat_sns_base.rstrip('/')}/sns/oauth2/access_token"
    try:
        response = await ctx.runtime(CommerceRuntime).http.get(url, params=params)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ServiceUnavailable(
            "WeChat did not answer; try again", code=CommerceCode.PAYMENT_WECHAT_UNREACHABLE
        ) from exc
    openid = body.get("openid") if isinstance(body, dict) else None
    if not isinstance(openid, str) or not openid:
        log.warning("snsapi_base code refused: %s %s", body.get("errcode"), body.get("errmsg"))
        raise Conflict(
            f"WeChat refused the sign-in ({body.get('errcode')}); try again", code=CommerceCode.PAYMENT_OAUTH_FAILED
        )
    return openid
