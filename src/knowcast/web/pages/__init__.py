"""Page routes, one module per area: auth (sign in/up, account), channel (home, room), studio (host),
integrations (API tokens, webhooks), shop (checkout, library), seo, app_shell (manifest, favicon)."""

from fastapi import APIRouter

from knowcast.web.pages import analytics, app_shell, auth, channel, growth, integrations, replay, seo, shop, studio

router = APIRouter(include_in_schema=False)
for module in (auth, channel, replay, studio, analytics, integrations, shop, growth, seo, app_shell):
    router.include_router(module.router)
