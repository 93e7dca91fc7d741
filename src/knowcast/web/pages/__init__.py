"""Page routes, one module per area: auth (sign in/up, account), channel (home, room), studio (host: rooms,
product library, home), learn (the buyer's course page), integrations (API tokens, webhooks), shop (sandbox checkout,
library), checkout (the buyer's checkout and my orders), seo, app_shell (manifest, favicon)."""

from fastapi import APIRouter

from knowcast.web.pages import (
    analytics,
    app_shell,
    auth,
    channel,
    checkout,
    growth,
    integrations,
    learn,
    replay,
    seo,
    shop,
    stage,
    studio,
    studio_products,
)

router = APIRouter(include_in_schema=False)
for module in (
    auth,
    channel,
    replay,
    studio,
    studio_products,
    stage,
    analytics,
    integrations,
    shop,
    checkout,
    learn,
    growth,
    seo,
    app_shell,
):
    router.include_router(module.router)
