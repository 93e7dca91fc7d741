"""The embeddable room: which sites may frame it, and the headers that tell the browser so.

The owner lists allowed origins (``https://blog.example.com``, ``https://*.example.com``,
``http://localhost:8080``). The embed page answers with ``Content-Security-Policy: frame-ancestors 'self'
<origins>`` and without ``X-Frame-Options`` (which cannot name other sites), so the browser itself refuses to
show the page inside any site that is not listed. A source that would allow every site (``*``, ``https:``)
is refused with ``embed.origin_too_broad``.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowcast.errors import Conflict, NotFound, ValidationFailed
from knowcast.growth.errors import GrowthCode
from knowcast.growth.models import EmbedSite

PATH_PREFIX = "/embed/"
MAX_SITES = 50
_HOST = re.compile(r"^(\*\.)?([a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$")
_ORIGIN = re.compile(r"^(https?)://([^/:?#]+)(?::(\d{1,5}))?/?$")
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self' ws: wss:; base-uri 'self'; form-action 'self'; frame-ancestors {sources}"
)


def normalize_origin(raw: str) -> str:
    """``scheme://host[:port]`` in lower case, or ValidationFailed with an ``embed.*`` code."""
    value = raw.strip().lower()
    if value in ("*", "http:", "https:", "http://*", "https://*", "'self'", "'none'"):
        raise ValidationFailed("this would let every site embed your rooms", code=GrowthCode.EMBED_ORIGIN_TOO_BROAD)
    match = _ORIGIN.fullmatch(value)
    if match is None:
        raise ValidationFailed(
            "give a site's origin such as https://blog.example.com",
            code=GrowthCode.EMBED_BAD_ORIGIN,
            fields={"origin": raw[:80]},
        )
    scheme, host, port = match.groups()
    if host == "*" or host.count("*") > (1 if host.startswith("*.") else 0) or not _HOST.fullmatch(host):
        raise ValidationFailed("this is not a host name", code=GrowthCode.EMBED_BAD_ORIGIN, fields={"origin": raw[:80]})
    if host.startswith("*.") and host.count(".") < 2:
        raise ValidationFailed("a wildcard must stay inside one site", code=GrowthCode.EMBED_ORIGIN_TOO_BROAD)
    if port is not None and not 0 < int(port) < 65536:
        raise ValidationFailed(
            "the port is out of range", code=GrowthCode.EMBED_BAD_ORIGIN, fields={"origin": raw[:80]}
        )
    return f"{scheme}://{host}" + (f":{int(port)}" if port else "")


async def sites(session: AsyncSession) -> list[EmbedSite]:
    return list(await session.scalars(select(EmbedSite).order_by(EmbedSite.id)))


async def add_site(session: AsyncSession, raw: str) -> EmbedSite:
    origin = normalize_origin(raw)
    existing = await session.scalar(select(EmbedSite).where(EmbedSite.origin == origin))
    if existing is not None:
        return existing
    if len(await sites(session)) >= MAX_SITES:
        raise Conflict(f"at most {MAX_SITES} sites", code=GrowthCode.EMBED_TOO_MANY_SITES)
    site = EmbedSite(origin=origin)
    session.add(site)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        found = await session.scalar(select(EmbedSite).where(EmbedSite.origin == origin))
        assert found is not None
        return found
    return site


async def remove_site(session: AsyncSession, site_id: int) -> None:
    site = await session.get(EmbedSite, site_id)
    if site is None:
        raise NotFound("no such site", code=GrowthCode.EMBED_SITE_NOT_FOUND)
    await session.delete(site)
    await session.commit()


def headers_for(origins: list[str]) -> dict[str, str]:
    sources = " ".join(["'self'", *origins])
    return {"content-security-policy": CSP.format(sources=sources), "cache-control": "no-store"}


class EmbedFraming:
    """ASGI middleware: drops ``X-Frame-Options`` from embed pages that set their own ``frame-ancestors``.

    The security-headers middleware adds ``X-Frame-Options: SAMEORIGIN`` to every response that lacks one;
    it must sit inside this one so this sees (and removes) it. Everything else passes untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PATH_PREFIX):
            await self.app(scope, receive, send)
            return

        async def strip(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "frame-ancestors" in headers.get("content-security-policy", ""):
                    del headers["x-frame-options"]
            await send(message)

        await self.app(scope, receive, strip)
