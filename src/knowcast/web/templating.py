"""Jinja2 set-up: every page gets the locale, a translate function, the CSRF token and the signed-in user."""

from __future__ import annotations

import re
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from knowcast import csrf, i18n
from knowcast.accounts.models import User
from knowcast.money import money
from knowcast.privacy import consent
from knowcast.settings import Settings
from knowcast.web.assets import Manifest

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
THEME_COLOR = "#ff2d55"  # the brand colour: also --brand in static/css/app.css and the manifest's theme_color
# The logo (favicon and the top bar's brand mark) as a data: URI in the page: 400 bytes that would otherwise
# be one more request for every browser opening a room (a crowd's requests are the server's work).
_LOGO = re.sub(r">\s+<", "><", (STATIC_DIR / "img" / "logo.svg").read_text("utf-8").strip())
LOGO_URI = "data:image/svg+xml," + quote(_LOGO, safe="=:/")
ICON_NAMES = frozenset(
    line.strip()
    for line in (STATIC_DIR / "icons.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)


class Pages:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.templates = Jinja2Templates(directory=WEB_DIR / "templates")
        self.assets = Manifest(STATIC_DIR)
        self.templates.env.globals.update(
            asset=self.assets.url,
            asset_imports=self.assets.imports,
            format_money=money,
            icon=self.icon,
            logo_uri=LOGO_URI,
            site_name=settings.site_name,
            test_payments=settings.test_payments,
            theme_color=THEME_COLOR,
        )
        self.templates.env.filters["localtime"] = self.localtime

    def icon(self, name: str, label: str | None = None, cls: str = "") -> Markup:
        """An icon from the bundled lucide sprite. Decorative (hidden from screen readers) unless ``label`` is
        given; names are those in static/icons.txt (an unknown one is a bug, so it raises)."""
        if name not in ICON_NAMES:
            raise ValueError(f"icon {name!r} is not in static/icons.txt")
        href = f"{self.assets.url('dist/icons.svg')}#{name}"
        if label:
            svg = Markup(
                '<svg class="icon icon-{} {}" role="img" aria-label="{}" focusable="false"><use href="{}"></use></svg>'
            )
            return svg.format(name, cls, label, href)
        svg = Markup('<svg class="icon icon-{} {}" aria-hidden="true" focusable="false"><use href="{}"></use></svg>')
        return svg.format(name, cls, href)

    def localtime(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(self.zone).strftime(fmt) if value else ""

    def locale_for(self, request: Request) -> str:
        user: User | None = getattr(request.state, "user", None)
        if user is not None and user.locale in i18n.LOCALES:
            return str(user.locale)
        return str(getattr(request.state, "locale", self.settings.default_locale))

    def render(self, request: Request, name: str, status_code: int = 200, /, **context: Any) -> HTMLResponse:
        locale = self.locale_for(request)
        context.update(
            locale=locale,
            t=partial(i18n.translate, locale),
            csrf_token=csrf.token_for(self.settings.secret_key, csrf.request_nonce(request)),
            user=getattr(request.state, "user", None),
            public_url=self.settings.public_url.rstrip("/"),
            consent=consent.state(request.headers, request.cookies),
            here=here(request),
            time_zone=self.settings.timezone,
        )
        response = self.templates.TemplateResponse(request, name, context, status_code=status_code)
        response.headers["content-language"] = locale
        return response

    async def error_page(self, request: Request, status_code: int, code: str, message: str) -> Response:
        if status_code == 401:  # a page that needs sign-in sends the visitor there and back
            return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)
        return self.render(request, "error.html", status_code, status=status_code, code=code, message=message)


def here(request: Request) -> str:
    """This page's path and query: where sign-in, sign-up and the language switch come back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages
