"""The only code that changes accounts: sign-up, sign-in, sessions, passwords, roles."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from knowcast.accounts.errors import AccountsCode
from knowcast.accounts.models import AuthSession, Role, User
from knowcast.accounts.passwords import Passwords
from knowcast.accounts.schemas import PasswordChange, ProfileUpdate, SignIn, SignUp
from knowcast.accounts.throttle import SignInThrottle
from knowcast.bus import Event
from knowcast.context import AppContext
from knowcast.db.types import utcnow
from knowcast.errors import Conflict, InvalidCredentials, NotFound, PermissionDenied, ValidationFailed
from knowcast.privacy import audit, crypto


@dataclass(frozen=True)
class NewSession:
    user: User
    token: str  # goes into the cookie; only its hash is stored


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", code=AccountsCode.USER_NOT_FOUND)
    return user


def email_hash(email: str) -> str:
    return crypto.cipher().lookup_hash(normalize_email(email), "email")


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    user: User | None = await session.scalar(select(User).where(User.email_hash == email_hash(email)))
    return user


async def create_user(
    session: AsyncSession, ctx: AppContext, data: SignUp, role: Role = Role.VIEWER, locale: str | None = None
) -> User:
    email = normalize_email(str(data.email))
    if await find_by_email(session, email) is not None:
        raise Conflict(
            "an account with this email exists", code=AccountsCode.ACCOUNT_EMAIL_TAKEN, fields={"email": "taken"}
        )
    user = User(
        email=email,
        email_hash=email_hash(email),
        display_name=data.display_name,
        password_hash=ctx.runtime(Passwords).hash(data.password),
        role=role,
        locale=locale,
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:  # two sign-ups with one email racing each other
        await session.rollback()
        raise Conflict("an account with this email exists", code=AccountsCode.ACCOUNT_EMAIL_TAKEN) from exc
    await ctx.bus.publish(Event("user.created", {"user_id": user.id, "role": user.role.value}))
    return user


async def sign_up(
    session: AsyncSession, ctx: AppContext, data: SignUp, ip: str, locale: str | None = None
) -> NewSession:
    ctx.limit.signup_address.hit(
        f"signup:{ip}", code=AccountsCode.ACCOUNT_SIGNUP_RATE_LIMITED, message="too many sign-ups"
    )
    user = await create_user(session, ctx, data, locale=locale)
    return await open_session(session, ctx, user, ip=ip, user_agent=None)


async def sign_in(session: AsyncSession, ctx: AppContext, data: SignIn, ip: str, user_agent: str | None) -> NewSession:
    """Check the password; failures are counted as accounts/throttle.py says."""
    email = normalize_email(str(data.email))
    throttle = ctx.runtime(SignInThrottle)
    user = await find_by_email(session, email)
    usual = throttle.is_usual(email, ip) or (user is not None and await _signed_in_from(session, user.id, ip))
    throttle.check(email, ip, usual_address=usual)
    if not ctx.runtime(Passwords).verify(user.password_hash if user else None, data.password) or user is None:
        throttle.failed(email, ip)
        raise InvalidCredentials("wrong email or password")
    if not user.is_active:
        raise PermissionDenied("this account is disabled", code=AccountsCode.ACCOUNT_DISABLED)
    throttle.succeeded(email, ip)
    if ctx.runtime(Passwords).needs_rehash(user.password_hash):
        user.password_hash = ctx.runtime(Passwords).hash(data.password)
    return await open_session(session, ctx, user, ip=ip, user_agent=user_agent)


async def _signed_in_from(session: AsyncSession, user_id: int, ip: str) -> bool:
    """Whether the account has a session, live or not, opened from this address: the owner's usual one."""
    found = await session.scalar(
        select(AuthSession.id).where(AuthSession.user_id == user_id, AuthSession.ip == ip).limit(1)
    )
    return found is not None


async def open_session(
    session: AsyncSession, ctx: AppContext, user: User, *, ip: str | None, user_agent: str | None
) -> NewSession:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AuthSession(
            token_hash=hash_token(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=ctx.settings.session_days),
            ip=ip,
            user_agent=(user_agent or "")[:256] or None,
        )
    )
    await session.commit()
    return NewSession(user=user, token=token)


async def resolve_session(session: AsyncSession, token: str) -> User | None:
    """The signed-in user for a cookie token, or None when it is unknown, expired or the user disabled."""
    row = await session.scalar(select(AuthSession).where(AuthSession.token_hash == hash_token(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    user = await session.get(User, row.user_id)
    return user if user is not None and user.is_active else None


async def session_user_ids(session: AsyncSession, tokens: Collection[str]) -> dict[str, int]:
    """``resolve_session`` for many cookie tokens in one query: the active user's id behind each token that
    is a live session (unknown, expired and disabled ones are left out)."""
    hashes = {hash_token(token): token for token in tokens}
    query = (
        select(AuthSession.token_hash, AuthSession.user_id)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash.in_(hashes), AuthSession.expires_at > utcnow(), User.is_active.is_(True))
    )
    return {hashes[token_hash]: user_id for token_hash, user_id in await session.execute(query)}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a session cookie names, as a page needs it (no personal data beyond the public nickname)."""

    user_id: int
    display_name: str
    role: Role
    locale: str | None


_IDENTITIES = (  # built once: a crowd's batches reuse its compiled form (and its cache key) as they are
    select(AuthSession.token_hash, User.id, User.display_name, User.role, User.locale)
    .join(User, User.id == AuthSession.user_id)
    .where(
        AuthSession.token_hash.in_(bindparam("hashes", expanding=True)),
        AuthSession.expires_at > bindparam("now"),
        User.is_active.is_(True),
    )
)


def session_identities(session: Session, tokens: Collection[str]) -> dict[str, Identity]:
    """``resolve_session`` for many cookie tokens in one query, reading only what a page shows of its user
    (synchronous: a crowd's batch, read with ``Database.read``; plain rows, no ORM objects)."""
    hashes = {hash_token(token): token for token in tokens}
    rows = session.connection().execute(_IDENTITIES, {"hashes": list(hashes), "now": utcnow()})
    return {
        hashes[token_hash]: Identity(user_id, name, role, locale) for token_hash, user_id, name, role, locale in rows
    }


async def sign_out(session: AsyncSession, ctx: AppContext, token: str) -> None:
    """The session ends; its user's live sockets are told (``user.signed_out``) so that one opened under it
    stops speaking for them."""
    ended = delete(AuthSession).where(AuthSession.token_hash == hash_token(token)).returning(AuthSession.user_id)
    user_id = (await session.execute(ended)).scalar_one_or_none()
    await session.commit()
    if user_id is not None:
        await ctx.bus.publish(Event("user.signed_out", {"user_id": user_id}))


async def change_password(
    session: AsyncSession, ctx: AppContext, user: User, data: PasswordChange, ip: str | None
) -> NewSession:
    """Every other session of the user ends; the caller gets a fresh one."""
    if not ctx.runtime(Passwords).verify(user.password_hash, data.current_password):
        raise InvalidCredentials("the current password is wrong", fields={"current_password": "wrong"})
    if data.current_password == data.new_password:
        raise ValidationFailed("choose a new password", code=AccountsCode.ACCOUNT_PASSWORD_UNCHANGED)
    user.password_hash = ctx.runtime(Passwords).hash(data.new_password)
    user.password_changed_at = utcnow()
    await session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
    await session.commit()
    await ctx.bus.publish(Event("user.password_changed", {"user_id": user.id}))
    return await open_session(session, ctx, user, ip=ip, user_agent=None)


async def update_profile(session: AsyncSession, user: User, data: ProfileUpdate) -> User:
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.locale is not None:
        user.locale = data.locale
    if data.real_name is not None:
        user.real_name = data.real_name.strip() or None
    if data.phone is not None:
        user.phone = data.phone.replace(" ", "").replace("-", "")
    await session.commit()
    return user


async def set_role(session: AsyncSession, ctx: AppContext, actor: User, user_id: int, role: Role) -> User:
    user = await get_user(session, user_id)
    if user.id == actor.id and role is not Role.OWNER:
        raise Conflict("an owner cannot demote themself", code=AccountsCode.ACCOUNT_SELF_DEMOTION)
    previous = user.role
    user.role = role
    audit.record(session, actor.id, "user.role_changed", "user", user.id, before=previous.value, after=role.value)
    await session.commit()
    await ctx.bus.publish(Event("user.role_changed", {"user_id": user.id, "role": role.value, "by": actor.id}))
    return user


async def export_personal_data(session: AsyncSession, user: User) -> dict[str, list[dict[str, object]]]:
    sessions = await session.scalars(select(AuthSession).where(AuthSession.user_id == user.id))
    profile: dict[str, object] = {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "real_name": user.real_name,
        "phone": user.phone,
        "role": user.role.value,
        "locale": user.locale,
        "created_at": user.created_at.isoformat(),
        "password_changed_at": user.password_changed_at.isoformat(),
    }
    devices: list[dict[str, object]] = [
        {
            "created_at": s.created_at.isoformat(),
            "last_seen_at": s.last_seen_at.isoformat(),
            "expires_at": s.expires_at.isoformat(),
            "ip": s.ip,
            "user_agent": s.user_agent,
        }
        for s in sessions
    ]
    return {"account": [profile], "sign_in_sessions": devices}


async def erase_personal_data(session: AsyncSession, user: User) -> None:
    """Anonymize the account in place: the row stays so orders keep a buyer id, but nothing identifies a person."""
    placeholder = f"deleted-{user.id}@deleted.invalid"
    user.email = placeholder
    user.email_hash = email_hash(placeholder)
    user.display_name = "已注销用户"
    user.real_name = None
    user.phone = None
    user.password_hash = "!"  # noqa: S105  # matches no password
    user.is_active = False
    user.deleted_at = utcnow()
    await session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))


async def disable_user(session: AsyncSession, ctx: AppContext, actor: User, user_id: int) -> User:
    """Ban from the site: every session ends at once and sign-in is refused."""
    user = await get_user(session, user_id)
    if user.id == actor.id:
        raise Conflict("an owner cannot disable themself", code=AccountsCode.ACCOUNT_SELF_DISABLE)
    user.is_active = False
    await session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
    audit.record(session, actor.id, "user.disabled", "user", user.id)
    await session.commit()
    await ctx.bus.publish(Event("user.disabled", {"user_id": user.id, "by": actor.id}))
    return user
