"""Consent, export, deletion and the audit log: JSON API and the forms the pages post to."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import RedirectResponse, Response

from knowcast.accounts import service as accounts
from knowcast.accounts.cookies import clear_session_cookie
from knowcast.accounts.models import User
from knowcast.accounts.schemas import UserPublic
from knowcast.deps import Ctx, CurrentUser, Db, Id, MaybeUser, Owner, Public, client_ip
from knowcast.errors import KnowcastError
from knowcast.privacy import audit, consent, service
from knowcast.privacy.models import AuditEntry
from knowcast.privacy.visitors import VisitorIds
from knowcast.validation import Input
from knowcast.web.pages.auth import safe_next
from knowcast.web.pages.forms import form_values
from knowcast.web.templating import pages_of as pages

router = APIRouter(tags=["privacy"])
CONSENT_MAX_AGE = 365 * 86400


class ConsentChoice(Input):
    analytics: bool


class ConsentPublic(BaseModel):
    analytics: bool
    decided: bool
    signal: str | None


class AccountDeletion(Input):
    password: str = Field(min_length=1, max_length=256)


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, object]


async def _save_consent(request: Request, ctx: Ctx, db: Db, user: User | None, analytics: bool, source: str) -> None:
    visitor = await ctx.runtime(VisitorIds).pseudonymous(db, client_ip(request), request.headers.get("user-agent", ""))
    await service.record_consent(db, user, visitor, analytics, source)


def _set_consent_cookie(response: Response, analytics: bool) -> None:
    value = consent.GRANTED if analytics else consent.DENIED
    response.set_cookie(consent.COOKIE, value, max_age=CONSENT_MAX_AGE, samesite="lax", httponly=True)


@router.get("/api/v1/privacy/consent", dependencies=[Public])
async def get_consent(request: Request) -> ConsentPublic:
    state = consent.state(request.headers, request.cookies)
    return ConsentPublic(analytics=state.analytics, decided=state.decided, signal=state.signal)


@router.post("/api/v1/privacy/consent", dependencies=[Public])
async def set_consent(
    data: ConsentChoice, request: Request, response: Response, ctx: Ctx, db: Db, user: MaybeUser
) -> ConsentPublic:
    signal = consent.browser_signal(request.headers)
    analytics = data.analytics and signal is None  # GPC / DNT win over a click
    await _save_consent(request, ctx, db, user, analytics, "api")
    _set_consent_cookie(response, analytics)
    return ConsentPublic(analytics=analytics, decided=True, signal=signal)


@router.post("/consent", dependencies=[Public], include_in_schema=False)
async def consent_form(request: Request, ctx: Ctx, db: Db, user: MaybeUser) -> Response:
    values = await form_values(request)
    analytics = values.get("choice") == consent.GRANTED and consent.browser_signal(request.headers) is None
    await _save_consent(request, ctx, db, user, analytics, values.get("source", "banner")[:16])
    response = RedirectResponse(safe_next(values.get("next")), status_code=303)
    _set_consent_cookie(response, analytics)
    return response


@router.get("/api/v1/privacy/export")
async def export(ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    archive = await service.export_zip(db, ctx, user)
    name = f"knowcast-export-{user.id}.zip"
    return Response(
        archive,
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"},
    )


@router.delete("/api/v1/auth/me", status_code=204)
async def delete_me(data: AccountDeletion, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    await service.delete_account(db, ctx, user, data.password)
    response = Response(status_code=204)
    clear_session_cookie(response, ctx.settings)
    return response


@router.post("/account/delete", include_in_schema=False)
async def delete_form(request: Request, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    values = await form_values(request)
    try:
        await service.delete_account(db, ctx, user, values.get("password", ""))
    except KnowcastError as error:
        return pages(request).render(request, "account.html", error.status_code, error=error, saved=False)
    response = RedirectResponse("/?deleted=1", status_code=303)
    clear_session_cookie(response, ctx.settings)
    return response


@router.get("/api/v1/audit")
async def audit_log(db: Db, _owner: Owner, action: str | None = None) -> list[AuditPublic]:
    return [_audit_view(entry) for entry in await audit.recent(db, action=action)]


@router.post("/api/v1/users/{user_id}/disable")
async def disable_user(user_id: Id, ctx: Ctx, db: Db, owner: Owner) -> UserPublic:
    return UserPublic.model_validate(await accounts.disable_user(db, ctx, owner, user_id))


@router.get("/studio/audit", include_in_schema=False)
async def audit_page(request: Request, db: Db, _owner: Owner) -> Response:
    return pages(request).render(request, "audit.html", entries=await audit.recent(db))


def _audit_view(entry: AuditEntry) -> AuditPublic:
    return AuditPublic(
        id=entry.id,
        at=entry.at,
        actor_id=entry.actor_id,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        detail=entry.detail,
    )
