"""What makes the site installable: the web app manifest (so a room can be added to a phone's home screen),
the favicon at the address browsers ask for, and the apple-touch-icon."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from knowcast import i18n
from knowcast.deps import Public
from knowcast.web.templating import THEME_COLOR
from knowcast.web.templating import pages_of as pages

router = APIRouter()


@router.get("/manifest.webmanifest", dependencies=[Public])
async def manifest(request: Request) -> Response:
    shell = pages(request)
    locale = shell.locale_for(request)
    icon = shell.assets.url
    body = {
        "name": shell.settings.site_name,
        "short_name": shell.settings.site_name,
        "description": i18n.translate(locale, "home.description"),
        "lang": locale,
        "start_url": "/?source=homescreen",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": "#000000",
        "theme_color": THEME_COLOR,
        "icons": [
            {"src": icon("dist/img/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": icon("dist/img/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {
                "src": icon("dist/img/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": icon("img/logo.svg"), "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
        ],
    }
    headers = {"cache-control": "public, max-age=3600", "vary": "accept-language, cookie"}
    return JSONResponse(body, media_type="application/manifest+json", headers=headers)


@router.get("/favicon.ico", dependencies=[Public])
async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico whatever the page links; answer with the PNG (every browser reads it)."""
    return RedirectResponse(pages(request).assets.url("dist/img/icon-32.png"), status_code=301)


@router.get("/apple-touch-icon.png", dependencies=[Public])
async def apple_touch_icon(request: Request) -> Response:
    return RedirectResponse(pages(request).assets.url("dist/img/apple-touch-icon.png"), status_code=301)
