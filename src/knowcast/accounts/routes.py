"""JSON API for accounts: /api/v1/auth and /api/v1/users."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from knowcast import csrf
from knowcast.accounts import service
from knowcast.accounts.cookies import clear_session_cookie, set_session_cookie
from knowcast.accounts.models import User
from knowcast.accounts.schemas import Me, PasswordChange, ProfileUpdate, RoleChange, SignIn, SignUp, UserPublic
from knowcast.deps import SESSION_COOKIE, Ctx, CurrentUser, Db, Id, Owner, Public, client_ip

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def _me(request: Request, ctx: Ctx, user: User) -> Me:
    token = csrf.token_for(ctx.settings.secret_key, csrf.request_nonce(request))
    return Me(user=UserPublic.model_validate(user), csrf_token=token)


@router.post("/auth/signup", status_code=201, dependencies=[Public])
async def sign_up(data: SignUp, request: Request, response: Response, ctx: Ctx, db: Db) -> Me:
    new = await service.sign_up(db, ctx, data, client_ip(request), locale=request.state.locale)
    set_session_cookie(response, new.token, ctx.settings)
    return _me(request, ctx, new.user)


@router.post("/auth/signin", dependencies=[Public])
async def sign_in(data: SignIn, request: Request, response: Response, ctx: Ctx, db: Db) -> Me:
    new = await service.sign_in(db, ctx, data, client_ip(request), request.headers.get("user-agent"))
    set_session_cookie(response, new.token, ctx.settings)
    return _me(request, ctx, new.user)


@router.post("/auth/signout", status_code=204)
async def sign_out(request: Request, ctx: Ctx, db: Db, _user: CurrentUser) -> Response:
    await service.sign_out(db, ctx, request.cookies.get(SESSION_COOKIE, ""))
    response = Response(status_code=204)
    clear_session_cookie(response, ctx.settings)
    return response


@router.get("/auth/me")
async def me(request: Request, ctx: Ctx, user: CurrentUser) -> Me:
    return _me(request, ctx, user)


@router.patch("/auth/me")
async def update_me(data: ProfileUpdate, request: Request, ctx: Ctx, db: Db, user: CurrentUser) -> Me:
    return _me(request, ctx, await service.update_profile(db, user, data))


@router.post("/auth/password")
async def change_password(
    data: PasswordChange, request: Request, response: Response, ctx: Ctx, db: Db, user: CurrentUser
) -> Me:
    new = await service.change_password(db, ctx, user, data, client_ip(request))
    set_session_cookie(response, new.token, ctx.settings)
    return _me(request, ctx, new.user)


@router.get("/users")
async def list_users(db: Db, _owner: Owner) -> list[UserPublic]:
    users = await db.scalars(select(User).order_by(User.id))
    return [UserPublic.model_validate(u) for u in users]


@router.patch("/users/{user_id}/role")
async def change_role(user_id: Id, data: RoleChange, ctx: Ctx, db: Db, owner: Owner) -> UserPublic:
    return UserPublic.model_validate(await service.set_role(db, ctx, owner, user_id, data.role))
