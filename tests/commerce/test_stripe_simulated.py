"""Stripe end to end against the local Stripe simulator (tests/commerce/simulators/stripe.py): Knowcast's
``StripeClient`` talks to it over real HTTP (``KNOWCAST_STRIPE_API_BASE``), and its webhooks, signed by hand
the way Stripe documents, reach Knowcast's endpoint over real HTTP. Covers Checkout Session creation, the
notification checks (forged, tampered, wrong amount / currency / mode / account, replayed, out of order),
recovery by query, closing on expiry, full and partial refunds, and reconciliation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from knowcast.accounts.models import Role
from knowcast.commerce import payments
from knowcast.commerce.models import Payment
from knowcast.context import AppContext
from knowcast.privacy.models import AuditEntry
from knowcast.settings import Settings
from tests.commerce.conftest import Shop, wait_for_state
from tests.commerce.simulators import serve
from tests.commerce.simulators.stripe import API_KEY, WEBHOOK_SECRET, StripeSimulator, signature

ACCOUNT = "acct_knowcast"


@pytest.fixture
def stripe_sim() -> Iterator[StripeSimulator]:
    sim = StripeSimulator(account=ACCOUNT)
    with serve(sim.app()) as url:
        sim.base_url = url
        yield sim


@pytest.fixture
def settings(settings: Settings, stripe_sim: StripeSimulator) -> Settings:
    return settings.model_copy(
        update={
            "payment_providers": "stripe",
            "stripe_secret_key": API_KEY,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_api_base": stripe_sim.base_url,
            "stripe_account": ACCOUNT,
            "payment_query_after_seconds": 3600,  # the sweeper leaves payments alone unless a test says so
        }
    )


@pytest.fixture
def sim(stripe_sim: StripeSimulator, webhook_server: str) -> StripeSimulator:
    stripe_sim.webhook_url = f"{webhook_server}/api/v1/payments/stripe/webhook"
    return stripe_sim


async def _checkout(shop: Shop, buyer: Any, price: int = 990, **fields: Any) -> tuple[dict[str, Any], str]:
    product = await shop.shelved(kind="course", price=price, **fields)
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    response = await buyer.client.post(f"/api/v1/orders/{order['id']}/checkout", json={"method": "card"})
    assert response.status_code == 200, response.text
    return order, response.json()["checkout_url"].rsplit("/", 1)[1]


async def _state(buyer: Any, order_id: int) -> str:
    return str((await buyer.client.get(f"/api/v1/orders/{order_id}")).json()["state"])


async def test_a_checkout_session_is_created_reused_and_paid(shop: Shop, make_user: Any, sim: StripeSimulator) -> None:
    buyer = await make_user(Role.VIEWER)
    methods = (await buyer.client.get("/api/v1/payments/methods")).json()
    assert methods == [{"method": "card", "provider": "stripe", "label_key": "pay.method.card"}]
    product = await shop.shelved(kind="course", price=990, title="理财课")
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    first = (await buyer.client.post(f"/api/v1/orders/{order['id']}/checkout")).json()
    assert first["method"] == "card" and first["qr_code"] is None and first["jsapi"] is None
    assert first["checkout_url"].startswith(f"{sim.base_url}/pay/cs_test_")
    again = (await buyer.client.post(f"/api/v1/orders/{order['id']}/checkout", json={"method": "card"})).json()
    assert again["checkout_url"] == first["checkout_url"] and len(sim.sessions) == 1
    session = next(iter(sim.sessions.values()))
    assert (session["amount_total"], session["currency"], session["metadata"]["order_id"]) == (
        990,
        "cny",
        str(order["id"]),
    )
    assert session["metadata"]["reference"].startswith(f"kc{order['id']}-")
    assert session["success_url"].endswith(f"order={order['id']}")
    unavailable = await buyer.client.post(f"/api/v1/orders/{order['id']}/checkout", json={"method": "wechat_native"})
    assert (unavailable.status_code, unavailable.json()["error"]["code"]) == (422, "payment.method_unavailable")
    paid = await asyncio.to_thread(httpx.post, first["checkout_url"])  # the buyer presses Pay on Stripe's page
    assert paid.status_code == 303 and paid.headers["location"] == session["success_url"]
    assert (await wait_for_state(buyer.client, order["id"], {"fulfilled"}))["state"] == "fulfilled"
    assert [e["product"]["title"] for e in (await buyer.client.get("/api/v1/library")).json()] == ["理财课"]


async def test_notifications_that_do_not_match_are_refused(
    shop: Shop, make_user: Any, ctx: AppContext, sim: StripeSimulator
) -> None:
    buyer = await make_user(Role.VIEWER)
    order, sid = await _checkout(shop, buyer)
    session = sim.complete(sid)
    good = sim.event("checkout.session.completed", session)

    forged = await sim.send(good, secret="whsec_forged")
    assert (forged.status_code, forged.json()["error"]["code"]) == (403, "payment.bad_signature")
    tampered_body = good.replace('"amount_total": 990', '"amount_total": 1')
    headers = {"stripe-signature": signature(good)}
    tampered = await asyncio.to_thread(httpx.post, sim.webhook_url, content=tampered_body, headers=headers)
    assert tampered.status_code == 403
    stale = await sim.send(good, timestamp=1_700_000_000)
    assert stale.status_code == 403

    wrong = {
        "amount": sim.event("checkout.session.completed", {**session, "amount_total": 1}),
        "currency": sim.event("checkout.session.completed", {**session, "currency": "usd"}),
        "order": sim.event("checkout.session.completed", {**session, "metadata": {"order_id": "999999"}}),
    }
    sim.livemode = True
    wrong["app"] = sim.event("checkout.session.completed", session)
    sim.livemode, sim.account = False, "acct_someone_else"
    wrong["merchant"] = sim.event("checkout.session.completed", session)
    sim.account = ACCOUNT
    for what, payload in wrong.items():
        refused = await sim.send(payload)
        assert (refused.status_code, refused.json()) == (400, {"result": f"refused_{what}"}), what
        assert await _state(buyer, order["id"]) == "pending"
    async with ctx.db.session() as session_:
        entries = list(
            await session_.scalars(select(AuditEntry).where(AuditEntry.action == "payment.notification_refused"))
        )
    assert sorted(e.detail["mismatch"] for e in entries) == ["amount", "app", "currency", "merchant", "order"]
    assert all(e.target_id == str(order["id"]) for e in entries)
    amount = next(e for e in entries if e.detail["mismatch"] == "amount")
    assert (amount.detail["expected"], amount.detail["got"]) == ("990", "1")

    assert (await sim.send(good)).json() == {"result": "paid"}
    assert (await sim.send(good)).json() == {"result": "duplicate"}  # replayed
    late_failure = sim.event("checkout.session.async_payment_failed", session)
    assert (await sim.send(late_failure)).json() == {"result": "stale"}  # out of order
    assert await _state(buyer, order["id"]) == "fulfilled"


async def test_a_missed_notification_is_recovered_by_query(
    shop: Shop, make_user: Any, ctx: AppContext, sim: StripeSimulator
) -> None:
    ctx.settings.payment_query_after_seconds = 0
    buyer = await make_user(Role.VIEWER)
    order, sid = await _checkout(shop, buyer)
    async with ctx.db.session() as session:
        await payments.recover_missed(session, ctx)  # asked while unpaid: nothing happens
    assert await _state(buyer, order["id"]) == "pending"
    await sim.pay(sid, notify=False)  # paid, but the notification never comes
    async with ctx.db.session() as session:
        await session.execute(Payment.__table__.update().values(next_query_at=None))
        await session.commit()
        await payments.recover_missed(session, ctx)
    assert await _state(buyer, order["id"]) == "fulfilled"
    assert ("GET", f"/v1/checkout/sessions/{sid}") in sim.requests
    async with ctx.db.session() as session:
        payment = await session.scalar(select(Payment).where(Payment.reference == sid))
    assert payment is not None and payment.provider_trade_id == sim.sessions[sid]["payment_intent"]


async def test_an_expired_order_is_closed_at_stripe(
    shop: Shop, make_user: Any, ctx: AppContext, sim: StripeSimulator
) -> None:
    from knowcast.commerce import orders
    from tests.commerce.test_orders import _expire_now

    buyer = await make_user(Role.VIEWER)
    order, sid = await _checkout(shop, buyer)
    await _expire_now(ctx, order["id"])
    async with ctx.db.session() as session:
        await orders.expire_due(session, ctx)
        await payments.close_abandoned(session, ctx)  # (or the app's own sweeper, whichever comes first)
        assert await payments.close_abandoned(session, ctx) == 0
        payment = await session.scalar(select(Payment).where(Payment.reference == sid))
    assert payment is not None and payment.closed_at is not None
    assert sim.sessions[sid]["status"] == "expired"
    assert sim.requests.count(("POST", f"/v1/checkout/sessions/{sid}/expire")) == 1
    late = await asyncio.to_thread(httpx.post, f"{sim.base_url}/pay/{sid}")
    assert late.status_code == 409  # the buyer can no longer pay it
    assert await _state(buyer, order["id"]) == "expired"


async def test_money_for_a_replaced_checkout_goes_back(
    shop: Shop, make_user: Any, ctx: AppContext, sim: StripeSimulator
) -> None:
    """A paid checkout that the order no longer uses (closed after a method or price change) is refunded."""
    buyer = await make_user(Role.VIEWER)
    order, sid = await _checkout(shop, buyer)
    session = sim.complete(sid)
    async with ctx.db.session() as db:
        await db.execute(Payment.__table__.update().values(closed_at=payments.utcnow()))
        await db.commit()
    assert (await sim.send(sim.event("checkout.session.completed", session))).json() == {
        "result": "refunded_replaced_checkout"
    }
    assert [r["amount"] for r in sim.refunds.values()] == [990]
    assert await _state(buyer, order["id"]) == "pending"


async def test_full_and_partial_refunds(shop: Shop, make_user: Any, ctx: AppContext, sim: StripeSimulator) -> None:
    buyer = await make_user(Role.VIEWER)
    first = await shop.shelved(kind="course", price=600, title="Course A")
    second = await shop.shelved(kind="course", price=400, title="Course B")
    items = [{"product_id": first["id"]}, {"product_id": second["id"]}]
    order = (await buyer.client.post("/api/v1/orders", json={"items": items})).json()
    checkout = (await buyer.client.post(f"/api/v1/orders/{order['id']}/checkout")).json()
    await asyncio.to_thread(httpx.post, checkout["checkout_url"])
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    refund = f"/api/v1/orders/{order['id']}/refund"

    too_much = await shop.host.client.post(refund, json={"amount": 1001})
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (422, "payment.refund_too_large")
    stranger = await shop.host.client.post(refund, json={"amount": 10, "product_ids": [999999]})
    assert stranger.json()["error"]["code"] == "payment.refund_product"

    partial = await shop.host.client.post(refund, json={"amount": 400, "product_ids": [second["id"]]})
    assert partial.status_code == 200 and partial.json()["state"] == "fulfilled"
    assert (partial.json()["refunded"], partial.json()["payment_method"]) == (400, "card")
    assert [r["amount"] for r in sim.refunds.values()] == [400]
    library = {e["product"]["title"]: e["active"] for e in (await buyer.client.get("/api/v1/library")).json()}
    assert library == {"Course A": True}  # B was taken back, A kept

    # Stripe tells us about our own refund: already counted
    ours = next(iter(sim.refunds.values()))
    assert (await sim.send(sim.event("refund.created", ours))).json() == {"result": "stale"}

    rest = await shop.host.client.post(refund)
    assert rest.json()["state"] == "refunded"
    assert sorted(r["amount"] for r in sim.refunds.values()) == [400, 600]
    assert (await buyer.client.get("/api/v1/library")).json() == []
    assert (await shop.host.client.post(refund)).status_code == 409
    async with ctx.db.session() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(order["id"]))))
    assert sorted(actions) == ["order.partially_refunded", "order.refunded"]


async def test_a_refund_made_in_the_stripe_dashboard(shop: Shop, make_user: Any, sim: StripeSimulator) -> None:
    buyer = await make_user(Role.VIEWER)
    order, sid = await _checkout(shop, buyer, price=1000)
    await sim.pay(sid)
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    intent = sim.sessions[sid]["payment_intent"]
    part = {"id": "re_dash1", "object": "refund", "amount": 300, "currency": "cny", "payment_intent": intent}
    part |= {"status": "succeeded", "metadata": {"order_id": str(order["id"]), "reference": sid}}
    assert (await sim.send(sim.event("refund.updated", part))).json() == {"result": "partially_refunded"}
    assert await _state(buyer, order["id"]) == "fulfilled"
    too_much = {**part, "id": "re_dash2", "amount": 800}
    assert (await sim.send(sim.event("refund.updated", too_much))).json() == {"result": "refused_amount"}
    rest = {**part, "id": "re_dash3", "amount": 700}
    assert (await sim.send(sim.event("refund.updated", rest))).json() == {"result": "refunded"}
    assert await _state(buyer, order["id"]) == "refunded"


async def test_reconciliation_finds_a_planted_mismatch_of_each_kind(
    shop: Shop,
    make_user: Any,
    ctx: AppContext,
    sim: StripeSimulator,
    seen: list[Any],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Stripe's statement (sessions completed and refunds made that UTC day, from the simulator) against our
    books, with one planted difference of each kind; everything else matches. Run through the reconcile core,
    the API, the console page and the ``knowcast payments reconcile`` command."""
    from datetime import UTC, datetime

    from knowcast import cli
    from knowcast.commerce import reconcile
    from knowcast.commerce.states import PaymentState

    buyer = await make_user(Role.VIEWER)
    fine, fine_sid = await _checkout(shop, buyer, price=700, title="Fine")
    await sim.pay(fine_sid)
    await wait_for_state(buyer.client, fine["id"], {"fulfilled"})
    assert (await shop.host.client.post(f"/api/v1/orders/{fine['id']}/refund", json={"amount": 100})).status_code == 200

    differs, differs_sid = await _checkout(shop, buyer, price=990, title="Differs")
    await sim.pay(differs_sid)
    await wait_for_state(buyer.client, differs["id"], {"fulfilled"})
    sim.sessions[differs_sid]["amount_total"] = 1990  # the provider's books say another amount

    ours_only, ours_sid = await _checkout(shop, buyer, price=500, title="Ours only")
    async with ctx.db.session() as session:  # our books say paid; Stripe never saw the money
        await session.execute(
            Payment.__table__.update()
            .where(Payment.reference == ours_sid)
            .values(state=PaymentState.SUCCEEDED, paid_at=datetime.now(UTC))
        )
        await session.commit()
    theirs_only = sim.plant_session(300)  # paid at Stripe; Knowcast knows nothing of it

    today = datetime.now(UTC).date()
    report = await reconcile.run(ctx, "stripe", today)
    found = {m.kind: m for m in report.mismatches}
    assert set(found) == {"amount", "knowcast_only", "provider_only"}
    assert (found["amount"].reference, found["amount"].ours, found["amount"].theirs) == (differs_sid, 990, 1990)
    assert (found["knowcast_only"].reference, found["knowcast_only"].order_id) == (ours_sid, ours_only["id"])
    assert (found["provider_only"].reference, found["provider_only"].theirs) == (theirs_only["id"], 300)
    assert report.lines == 4 and report.new == 3  # three paid sessions and one refund on the statement
    assert sorted(e.data["kind"] for e in seen if e.name == "payment.mismatch") == sorted(found)

    again = await reconcile.run(ctx, "stripe", today)  # a rerun finds the same, announces nothing new
    assert {m.kind for m in again.mismatches} == set(found) and again.new == 0

    owner = await make_user(Role.OWNER)
    listed = (await owner.client.get("/api/v1/payments/mismatches")).json()
    assert sorted(m["kind"] for m in listed) == sorted(found)
    assert (await buyer.client.get("/api/v1/payments/mismatches")).status_code == 403
    page = await owner.client.get("/studio/payments")
    assert page.status_code == 200 and page.text.count('data-testid="mismatch-row"') == 3
    assert differs_sid in page.text
    by_api = await owner.client.post("/api/v1/payments/reconcile", json={"provider": "stripe", "date": str(today)})
    assert by_api.status_code == 200 and sorted(m["kind"] for m in by_api.json()["mismatches"]) == sorted(found)
    unknown = await owner.client.post("/api/v1/payments/reconcile", json={"provider": "paypal", "date": str(today)})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "payment.unknown_provider")
    bad_day = await owner.client.post("/api/v1/payments/reconcile", json={"provider": "stripe", "date": "2099-01-01"})
    assert bad_day.status_code == 422
    form = await owner.client.post("/studio/payments/reconcile", data={"provider": "stripe", "date": str(today)})
    assert form.status_code == 200 and 'data-testid="reconcile-report"' in form.text
    resolved = await owner.client.post(f"/api/v1/payments/mismatches/{listed[0]['id']}/resolve")
    assert resolved.json()["resolved_at"] is not None
    assert len((await owner.client.get("/api/v1/payments/mismatches")).json()) == 2

    # the command line, as cron runs it: one JSON report, exit status 1 when anything differs
    env = {
        "KNOWCAST_DATABASE_URL": settings.database_url,
        "KNOWCAST_DATA_DIR": str(settings.data_dir),
        "KNOWCAST_SECRET_KEY": settings.secret_key,
        "KNOWCAST_PAYMENT_PROVIDERS": "stripe",
        "KNOWCAST_STRIPE_SECRET_KEY": API_KEY,
        "KNOWCAST_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "KNOWCAST_STRIPE_API_BASE": sim.base_url,
        "KNOWCAST_STRIPE_ACCOUNT": ACCOUNT,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as done:
        await asyncio.to_thread(
            cli.main, ["payments", "reconcile", "--provider", "stripe", "--date", today.isoformat()]
        )
    assert done.value.code == 1
    printed = __import__("json").loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(m["kind"] for m in printed["mismatches"]) == sorted(found) and printed["new"] == 0
    with pytest.raises(SystemExit) as bad:
        await asyncio.to_thread(cli.main, ["payments", "reconcile", "--provider", "stripe", "--date", "yesterday"])
    assert bad.value.code == 2


async def test_nightly_reconciliation_runs_once_a_day_after_the_bills(ctx: AppContext, sim: StripeSimulator) -> None:
    from datetime import UTC, datetime

    from knowcast.commerce import reconcile

    # (a day far from today's: the app's own loop may be reconciling the real yesterday meanwhile)
    early = datetime(2030, 3, 2, 0, 30, tzinfo=UTC)  # 08:30 in China: yesterday's bills are not out yet
    assert await reconcile.nightly(ctx, now=early) == []
    later = datetime(2030, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in China
    reports = await reconcile.nightly(ctx, now=later)
    assert [(r.provider, r.day.isoformat(), r.mismatches) for r in reports] == [("stripe", "2030-03-01", [])]
    assert await reconcile.nightly(ctx, now=later) == []  # claimed: once per provider and day
    async with ctx.db.session() as session:
        runs = await reconcile.recent_runs(session)
    ours = [(r.provider, r.finished_at is not None) for r in runs if r.day == "2030-03-01"]
    assert ours == [("stripe", True)]


async def test_reconciliation_finds_refund_mismatches(
    shop: Shop, make_user: Any, ctx: AppContext, sim: StripeSimulator
) -> None:
    from datetime import UTC, datetime

    from knowcast.commerce import reconcile
    from knowcast.commerce.models import PaymentRefund

    buyer = await make_user(Role.VIEWER)
    order, sid = await _checkout(shop, buyer, price=1000)
    await sim.pay(sid)
    await wait_for_state(buyer.client, order["id"], {"fulfilled"})
    refund = f"/api/v1/orders/{order['id']}/refund"
    assert (await shop.host.client.post(refund, json={"amount": 100})).status_code == 200
    assert (await shop.host.client.post(refund, json={"amount": 200})).status_code == 200
    first, second = sorted(sim.refunds.values(), key=lambda r: r["amount"])
    second["amount"] = 250  # the provider's books say another refund amount
    intent = sim.sessions[sid]["payment_intent"]
    sim.refunds["re_elsewhere"] = {  # a refund Knowcast never heard of
        **first,
        "id": "re_elsewhere",
        "amount": 50,
        "metadata": {"reference": sid},
        "payment_intent": intent,
    }
    async with ctx.db.session() as session:  # a refund in our books that Stripe never made
        payment = await session.scalar(select(Payment).where(Payment.reference == sid))
        assert payment is not None
        session.add(
            PaymentRefund(
                payment_id=payment.id,
                order_id=order["id"],
                reference="rf-ours-only",
                amount=70,
                state="succeeded",
                done_at=datetime.now(UTC),
            )
        )
        await session.commit()
    report = await reconcile.run(ctx, "stripe", datetime.now(UTC).date())
    found = {(m.kind, m.reference): (m.ours, m.theirs) for m in report.mismatches}
    refund_ref = second["metadata"]["refund_reference"]
    assert found == {
        ("refund_amount", refund_ref): (200, 250),
        ("refund_provider_only", "re_elsewhere"): (None, 50),
        ("refund_knowcast_only", "rf-ours-only"): (70, None),
    }


async def test_stripe_failures_have_stable_codes(
    shop: Shop, make_user: Any, ctx: AppContext, sim: StripeSimulator
) -> None:
    from knowcast.commerce.providers.base import RefundRequest
    from knowcast.commerce.providers.stripe import StripeProvider
    from knowcast.commerce.runtime import CommerceRuntime
    from knowcast.errors import ConfigError, ServiceUnavailable

    with pytest.raises(ConfigError) as bad_key:
        await StripeProvider("sk_test_wrong", WEBHOOK_SECRET, sim.base_url).query("cs_test_x")
    assert bad_key.value.code == "payment.not_configured"
    with pytest.raises(ServiceUnavailable) as refused:  # Stripe answers 404: no such session
        await StripeProvider(API_KEY, WEBHOOK_SECRET, sim.base_url).refund(RefundRequest("cs_none", "rf1", 1, 1, "CNY"))
    assert refused.value.code == "payment.provider_error"

    ctx.runtime(CommerceRuntime).providers["stripe"] = StripeProvider(
        API_KEY, WEBHOOK_SECRET, "http://127.0.0.1:9"
    )  # nobody there
    buyer = await make_user(Role.VIEWER)
    product = await shop.shelved(kind="course", price=990)
    order = (await buyer.client.post("/api/v1/orders", json={"items": [{"product_id": product["id"]}]})).json()
    down = await buyer.client.post(f"/api/v1/orders/{order['id']}/checkout")
    assert (down.status_code, down.json()["error"]["code"]) == (503, "payment.provider_unavailable")
    assert await _state(buyer, order["id"]) == "pending"  # nothing lost: the buyer can try again
