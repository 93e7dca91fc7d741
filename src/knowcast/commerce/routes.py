"""JSON API for orders, payments, webhooks, the buyer's library and downloads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse, JSONResponse, Response

from knowcast.accounts.models import Role, User
from knowcast.catalog import service as catalog
from knowcast.catalog.errors import CatalogCode
from knowcast.catalog.models import Lesson, Product
from knowcast.catalog.schemas import CourseView
from knowcast.catalog.views import product_public
from knowcast.commerce import buying, course_access, downloads, entitlements, offers, orders, payments, reconcile
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.models import Entitlement
from knowcast.commerce.providers.base import ProviderEvent
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.commerce.schemas import (
    CheckoutIn,
    CheckoutOut,
    EntitlementOut,
    MismatchOut,
    OrderCreate,
    OrderOut,
    PaymentMethodOut,
    ReconcileIn,
    ReconciliationOut,
    RefundIn,
)
from knowcast.commerce.states import OrderState, check_transition
from knowcast.deps import Ctx, CurrentUser, Db, Host, Id, Machine, Owner, Public, client_ip
from knowcast.errors import NotFound, PermissionDenied

router = APIRouter(tags=["commerce"])


async def signed_webhook(request: Request, provider: str, ctx: Ctx) -> tuple[str, ProviderEvent | None]:
    """Webhooks carry no CSRF token and no session (the route is ``Machine``): the provider's signature is
    checked here, before the route body runs."""
    found = ctx.runtime(CommerceRuntime).provider_named(provider)
    if found is None:
        raise NotFound("no such payment provider", code=CommerceCode.PAYMENT_UNKNOWN_PROVIDER)
    return found.name, await found.verify(await request.body(), request.headers)


SignedWebhook = Annotated[tuple[str, ProviderEvent | None], Depends(signed_webhook)]


def ensure_seller(user: User, host_id: int) -> None:
    if user.role is not Role.OWNER and user.id != host_id:
        raise NotFound("no such order", code=CommerceCode.ORDER_NOT_FOUND)


@router.post("/api/v1/orders", status_code=201)
async def create_order(request: Request, data: OrderCreate, ctx: Ctx, db: Db, user: CurrentUser) -> OrderOut:
    """Priced on the server; from a room, at the buyer's variant of any price experiment running there. The
    buyer's pending order for the same items is given back instead of a second one (buying.py)."""
    ctx.limit.orders_account.hit(f"orders:{user.id}", code=CommerceCode.ORDER_RATE_LIMITED, message="too many orders")
    visitor = offers.visitor_of(request, ctx, user)
    return await orders.order_out(db, await buying.buy(db, ctx, user, data, visitor))


@router.get("/api/v1/orders")
async def my_orders(db: Db, user: CurrentUser) -> list[OrderOut]:
    return [await orders.order_out(db, o) for o in await orders.orders_of_user(db, user.id)]


@router.get("/api/v1/orders/{order_id}")
async def get_order(order_id: Id, db: Db, user: CurrentUser) -> OrderOut:
    return await orders.order_out(db, await orders.get_order_for(db, user, order_id))


@router.post("/api/v1/orders/{order_id}/checkout")
async def checkout(
    request: Request, order_id: Id, ctx: Ctx, db: Db, user: CurrentUser, data: CheckoutIn | None = None
) -> CheckoutOut:
    """Start (or reuse) the payment of an order with a method (body optional: the default method)."""
    order = await orders.get_order_for(db, user, order_id)
    rt = ctx.runtime(CommerceRuntime)
    openid = await rt.openid_lookup(request, db, user) if rt.openid_lookup is not None else None
    method = data.method if data is not None else None
    return await payments.start_checkout(db, ctx, user, order, method, client_ip(request), openid)


@router.get("/api/v1/payments/methods")
async def payment_methods(request: Request, ctx: Ctx, user: CurrentUser) -> list[PaymentMethodOut]:
    """The enabled methods that work on the asking device, best first (inside WeChat: JSAPI; a phone:
    H5 / wap; a desktop: QR code / page pay)."""
    device = payments.device_of(request.headers.get("user-agent", ""))
    return [
        PaymentMethodOut(method=method, provider=provider.name, label_key=f"pay.method.{method.value}")
        for method, provider in payments.methods_for(ctx, device)
    ]


@router.post("/api/v1/orders/{order_id}/cancel")
async def cancel(order_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> OrderOut:
    order = await orders.get_order_for(db, user, order_id)
    if order.user_id != user.id:
        raise NotFound("no such order", code=CommerceCode.ORDER_NOT_FOUND)
    if not await orders.close_unpaid(db, ctx, order, OrderState.CANCELLED):
        await db.refresh(order)
        check_transition(order.state, OrderState.CANCELLED)
    return await orders.order_out(db, order)


@router.post("/api/v1/orders/{order_id}/refund")
async def refund(order_id: Id, ctx: Ctx, db: Db, host: Host, data: RefundIn | None = None) -> OrderOut:
    """All of what is left (no body), or a part: ``{"amount": 300, "product_ids": [7]}``."""
    order = await orders.get_order(db, order_id)
    ensure_seller(host, order.host_id)
    body = data or RefundIn()
    refunded = await payments.refund(db, ctx, order, host.id, body.amount, body.product_ids, body.reason)
    return await orders.order_out(db, refunded)


@router.post("/api/v1/orders/{order_id}/fulfil")
async def fulfil(order_id: Id, ctx: Ctx, db: Db, host: Host) -> OrderOut:
    order = await orders.get_order(db, order_id)
    ensure_seller(host, order.host_id)
    return await orders.order_out(db, await orders.fulfil(db, ctx, order))


@router.post("/api/v1/payments/{provider}/webhook", dependencies=[Machine])
async def webhook(verified: SignedWebhook, ctx: Ctx, db: Db) -> Response:
    """A provider's notification (signature checked by the dependency), answered the way it expects."""
    provider_name, event = verified
    provider = ctx.runtime(CommerceRuntime).provider_named(provider_name)
    assert provider is not None
    outcome = "ignored" if event is None else await payments.apply_event(db, ctx, provider, event)
    answer = provider.answer(not outcome.startswith("refused"))
    if provider.reports_outcome:
        return JSONResponse({"result": outcome}, status_code=answer.status_code)
    return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type)


@router.get("/api/v1/payments/mismatches")
async def mismatches(db: Db, _owner: Owner) -> list[MismatchOut]:
    """What reconciliation found and nobody has resolved yet, newest first."""
    return [MismatchOut.model_validate(m, from_attributes=True) for m in await reconcile.open_mismatches(db)]


@router.post("/api/v1/payments/mismatches/{mismatch_id}/resolve")
async def resolve_mismatch(mismatch_id: Id, db: Db, owner: Owner) -> MismatchOut:
    return MismatchOut.model_validate(await reconcile.resolve(db, mismatch_id, owner.id), from_attributes=True)


@router.get("/api/v1/payments/reconciliations")
async def reconciliations(db: Db, _owner: Owner) -> list[ReconciliationOut]:
    return [ReconciliationOut.model_validate(r, from_attributes=True) for r in await reconcile.recent_runs(db)]


@router.post("/api/v1/payments/reconcile")
async def reconcile_now(data: ReconcileIn, ctx: Ctx, _owner: Owner) -> dict[str, object]:
    """Reconcile a provider's day now (the nightly run does yesterday by itself)."""
    return (await reconcile.run(ctx, data.provider, data.date)).as_dict()


@router.get("/api/v1/library")
async def library(ctx: Ctx, db: Db, user: CurrentUser) -> list[EntitlementOut]:
    return [entitlement_out(e, p) for e, p in await entitlements.library(db, user.id)]


def entitlement_out(ent: Entitlement, product: Product) -> EntitlementOut:
    return EntitlementOut(
        id=ent.id,
        kind=ent.kind,
        product=product_public(product),
        order_id=ent.order_id,
        room_id=ent.room_id,
        slot_id=ent.slot_id,
        starts_at=ent.starts_at,
        ends_at=ent.ends_at,
        active=ent.revoked_at is None,
    )


@router.get("/api/v1/library/files/{product_id}")
async def download_links(product_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> list[dict[str, object]]:
    """Fresh signed links (valid ``download_link_seconds``) to a bought file product's files."""
    if not await entitlements.owns_product(db, user.id, product_id):
        raise PermissionDenied("buy this first", code=CommerceCode.LIBRARY_NOT_OWNED)
    return [
        {"id": f.id, "filename": f.filename, "size": f.size, "url": entitlements.download_url(ctx, f.id, user.id)}
        for f in await catalog.files_of(db, product_id)
    ]


@router.get("/api/v1/courses/{product_id}")
async def course(product_id: Id, ctx: Ctx, db: Db, user: CurrentUser) -> CourseView:
    """The bought course: lessons in order, locked ones (drip release) without their content, progress."""
    product = await course_access.get_course(db, product_id)
    return await course_access.course_view(db, ctx, user, product)


@router.post("/api/v1/lessons/{lesson_id}/complete")
async def complete_lesson(lesson_id: Id, db: Db, user: CurrentUser) -> dict[str, bool]:
    lesson = await db.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound("no such lesson", code=CatalogCode.LESSON_NOT_FOUND)
    await course_access.ensure_lesson_open(db, user, lesson)
    await catalog.complete_lesson(db, user.id, lesson_id)
    return {"completed": True}


@router.get("/downloads/{file_id}", dependencies=[Public])
async def download(request: Request, file_id: Id, ctx: Ctx, db: Db, u: int = 0, e: int = 0, s: str = "") -> Response:
    """A signed, expiring link; the signature is the guard, and the entitlement must still be active. Served
    as an attachment that no browser runs (commerce/downloads.py), from the download origin when one is set."""
    moved = downloads.elsewhere(request, ctx.settings.download_url)
    if moved is not None:
        return moved
    if not entitlements.check_download(ctx, file_id, u, e, s):
        raise PermissionDenied("this download link is invalid or has expired", code=CommerceCode.DOWNLOAD_LINK_INVALID)
    row = await catalog.get_file(db, file_id)
    if not await course_access.may_fetch(db, u, row):
        raise PermissionDenied("this purchase was refunded", code=CommerceCode.DOWNLOAD_NOT_OWNED)
    path = catalog.files_dir(ctx) / row.stored_name
    media_type = downloads.safe_type(row.content_type)
    return FileResponse(path, media_type=media_type, filename=row.filename, headers=downloads.HEADERS)
