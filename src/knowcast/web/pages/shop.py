"""Commerce pages: the sandbox provider's hosted checkout and the buyer's library."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from knowcast.catalog import service as catalog
from knowcast.catalog.kinds import ProductKind
from knowcast.catalog.views import product_public
from knowcast.commerce import entitlements, orders, payments, reconcile
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.runtime import CommerceRuntime
from knowcast.deps import Ctx, CurrentUser, Db, Id, MaybeUser, Owner, Public
from knowcast.errors import ErrorCode, KnowcastError, ValidationFailed
from knowcast.money import money
from knowcast.web.pages.forms import form_values
from knowcast.web.templating import pages_of as pages

router = APIRouter()
ACTIONS = ("pay", "fail", "abandon")


@router.get("/sandbox/checkout/{reference}", dependencies=[Public])
async def sandbox_checkout(request: Request, reference: str, db: Db, _user: MaybeUser) -> Response:
    return await _checkout_page(request, db, reference, error=None)


async def _checkout_page(request: Request, db: Db, reference: str, error: KnowcastError | None) -> Response:
    payment, order = await payments.sandbox_payment(db, reference)
    items = await orders.items_of(db, order.id)
    status = error.status_code if error else 200
    return pages(request).render(
        request,
        "sandbox_checkout.html",
        status,
        payment=payment,
        order=order,
        items=items,
        error=error,
        money=money,
    )


@router.post("/sandbox/checkout/{reference}", dependencies=[Public])
async def sandbox_act(request: Request, reference: str, ctx: Ctx, db: Db, _user: MaybeUser) -> Response:
    """The buyer's choice on the hosted page; the sandbox then confirms to the shop by signed webhook."""
    action = (await form_values(request)).get("action", "")
    try:
        if action not in ACTIONS:
            raise ValidationFailed("choose pay, fail or abandon", code=CommerceCode.PAYMENT_UNKNOWN_ACTION)
        order = await payments.sandbox_act(db, ctx, reference[:120], action)
    except KnowcastError as error:
        return await _checkout_page(request, db, reference[:120], error)
    if action == "fail":
        return RedirectResponse(f"/sandbox/checkout/{reference}?failed=1", status_code=303)
    return RedirectResponse(payments.return_url(ctx, order), status_code=303)


@router.get("/studio/payments")
async def payments_console(request: Request, ctx: Ctx, db: Db, _owner: Owner) -> Response:
    """The owner's reconciliation console: recent runs and the mismatches nobody has resolved."""
    return await _payments_page(request, ctx, db)


async def _payments_page(
    request: Request, ctx: Ctx, db: Db, error: KnowcastError | None = None, report: reconcile.Report | None = None
) -> Response:
    return pages(request).render(
        request,
        "payments_console.html",
        error.status_code if error else 200,
        runs=await reconcile.recent_runs(db),
        mismatches=await reconcile.open_mismatches(db),
        providers=[name for name in ctx.runtime(CommerceRuntime).providers if name != "sandbox"],
        money=money,
        error=error,
        report=report,
        yesterday=(date.today() - timedelta(days=1)).isoformat(),
    )


@router.post("/studio/payments/reconcile")
async def payments_reconcile(request: Request, ctx: Ctx, db: Db, _owner: Owner) -> Response:
    values = await form_values(request)
    try:
        try:
            day = date.fromisoformat(values.get("date", ""))
        except ValueError:
            raise ValidationFailed(
                "a date is YYYY-MM-DD", code=ErrorCode.REQUEST_INVALID, fields={"date": "YYYY-MM-DD"}
            ) from None
        report = await reconcile.run(ctx, values.get("provider", "")[:16], day)
    except KnowcastError as error:
        return await _payments_page(request, ctx, db, error=error)
    return await _payments_page(request, ctx, db, report=report)


@router.post("/studio/payments/mismatches/{mismatch_id}/resolve")
async def payments_resolve(mismatch_id: Id, db: Db, owner: Owner) -> Response:
    await reconcile.resolve(db, mismatch_id, owner.id)
    return RedirectResponse("/studio/payments", status_code=303)


@router.get("/library")
async def library(request: Request, ctx: Ctx, db: Db, user: CurrentUser) -> Response:
    """Everything the buyer owns: download links, course progress, tickets, memberships, bookings."""
    owned = []
    for ent, product in await entitlements.library(db, user.id):
        entry: dict[str, object] = {"ent": ent, "product": product_public(product)}
        if product.kind is ProductKind.FILE:
            entry["files"] = [
                (f, entitlements.download_url(ctx, f.id, user.id)) for f in await catalog.files_of(db, product.id)
            ]
        elif product.kind is ProductKind.COURSE:
            lessons = await catalog.lessons_of(db, product.id)
            done = await catalog.completed_lessons(db, user.id, product.id)
            entry["lessons"] = [(lesson, lesson.id in done) for lesson in lessons]
            entry["progress"] = (len(done), len(lessons))
        elif product.kind is ProductKind.CONSULTATION and ent.slot_id:
            slots = {s.id: s for s in await catalog.slots_of(db, product.id)}
            entry["slot"] = slots.get(ent.slot_id)
        owned.append(entry)
    recent = [await orders.order_out(db, o) for o in await orders.orders_of_user(db, user.id, limit=20)]
    return pages(request).render(request, "library.html", owned=owned, orders=recent, money=money)
