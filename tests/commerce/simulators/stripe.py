"""A Stripe API simulator: the endpoints Knowcast's ``StripeClient`` calls, a hosted "buyer pays" page, and
webhooks signed the way Stripe documents (``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(whsec,
"<t>.<payload>")>``, https://docs.stripe.com/webhooks#verify-manually), computed here by hand, not with the
library under test.

Endpoints (form-encoded requests, ``Authorization: Bearer sk_...``, ``Idempotency-Key`` honoured):
``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions[/{id}]`` (list filtered by ``created``,
``status``, ``payment_intent``), ``POST /v1/checkout/sessions/{id}/expire``, ``POST/GET /v1/refunds``.
The test's buyer pays at ``GET/POST /pay/{id}``; ``pay(..., notify=False)`` stands for a notification that
never arrived, ``plant_*`` for books that disagree.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

API_KEY = "sk_test_simulated"
WEBHOOK_SECRET = "whsec_simulated"


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's bracketed form encoding (``a[b][0][c]=1``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node: Any = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


def signature(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def error(message: str, status: int = 400, code: str = "resource_missing") -> JSONResponse:
    return JSONResponse({"error": {"type": "invalid_request_error", "message": message, "code": code}}, status)


@dataclass
class StripeSimulator:
    base_url: str = ""  # set once served
    webhook_url: str = ""  # Knowcast's /api/v1/payments/stripe/webhook
    livemode: bool = False
    account: str | None = None  # a connected account named in events
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) seen
    deliveries: list[httpx.Response] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._sessions, methods=["GET", "POST"]),
                Route("/v1/checkout/sessions/{sid}", self._session, methods=["GET"]),
                Route("/v1/checkout/sessions/{sid}/expire", self._expire, methods=["POST"]),
                Route("/v1/refunds", self._refunds, methods=["GET", "POST"]),
                Route("/pay/{sid}", self._page, methods=["GET", "POST"]),
            ]
        )

    # ---- what the test does ---------------------------------------------------------------------------

    def event(self, kind: str, obj: dict[str, Any]) -> str:
        body: dict[str, Any] = {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "type": kind,
            "livemode": self.livemode,
            "created": int(time.time()),
            "data": {"object": obj},
        }
        if self.account:
            body["account"] = self.account
        return json.dumps(body)

    async def send(self, payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> httpx.Response:
        headers = {"stripe-signature": signature(payload, secret, timestamp), "content-type": "application/json"}
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(self.webhook_url, content=payload, headers=headers)
        self.deliveries.append(response)
        return response

    def complete(self, sid: str, amount: int | None = None) -> dict[str, Any]:
        """The buyer paid (optionally a different amount: a tampered or planted payment)."""
        session = self.sessions[sid]
        if session["status"] != "open":
            raise ValueError(f"session {sid} is {session['status']}")
        session.update(status="complete", payment_status="paid", payment_intent="pi_" + secrets.token_hex(12))
        if amount is not None:
            session["amount_total"] = amount
        return session

    async def pay(self, sid: str, notify: bool = True) -> dict[str, Any]:
        session = self.complete(sid)
        if notify:
            await self.send(self.event("checkout.session.completed", session))
        return session

    def plant_session(self, amount: int, currency: str = "cny", reference: str | None = None) -> dict[str, Any]:
        """A paid session Knowcast never created (paid on the provider only)."""
        session = self._new_session({"currency": currency, "metadata": {"reference": reference or "kc-x"}}, amount)
        return self.complete(session["id"])

    # ---- the API ---------------------------------------------------------------------------------------

    async def _authorized(self, request: Request) -> Response | None:
        self.requests.append((request.method, request.url.path))
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return error("Invalid API Key provided", 401, "api_key_invalid")
        return None

    def _new_session(self, params: dict[str, Any], amount: int) -> dict[str, Any]:
        sid = f"cs_{'live' if self.livemode else 'test'}_" + secrets.token_hex(16)
        session: dict[str, Any] = {
            "id": sid,
            "object": "checkout.session",
            "url": f"{self.base_url}/pay/{sid}",
            "status": "open",
            "payment_status": "unpaid",
            "mode": params.get("mode", "payment"),
            "amount_total": amount,
            "currency": params.get("currency", "cny"),
            "metadata": params.get("metadata") or {},
            "client_reference_id": params.get("client_reference_id"),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "payment_intent": None,
            "livemode": self.livemode,
            "created": int(time.time()),
            "expires_at": int(params.get("expires_at") or time.time() + 86400),
        }
        self.sessions[sid] = session
        return session

    async def _sessions(self, request: Request) -> Response:
        if (refused := await self._authorized(request)) is not None:
            return refused
        if request.method == "GET":
            return self._list(list(self.sessions.values()), request, "/v1/checkout/sessions")
        key = request.headers.get("idempotency-key")
        if key and key in self.idempotent:
            return JSONResponse(self.idempotent[key])
        params = decode_form((await request.body()).decode())
        lines = params.get("line_items") or []
        if not lines:
            return error("line_items is required", code="parameter_missing")
        try:
            amount = sum(int(line["price_data"]["unit_amount"]) * int(line.get("quantity", 1)) for line in lines)
            currency = lines[0]["price_data"]["currency"]
        except (KeyError, ValueError, TypeError):
            return error("line_items are malformed", code="parameter_invalid")
        expires = params.get("expires_at")
        if expires is not None and not time.time() + 1800 <= int(expires) <= time.time() + 86400:
            return error("expires_at must be 30 minutes to 24 hours from now", code="parameter_invalid_integer")
        session = self._new_session({**params, "currency": currency}, amount)
        if key:
            self.idempotent[key] = session
        return JSONResponse(session)

    async def _session(self, request: Request) -> Response:
        if (refused := await self._authorized(request)) is not None:
            return refused
        session = self.sessions.get(request.path_params["sid"])
        return JSONResponse(session) if session else error("No such checkout.session", 404)

    async def _expire(self, request: Request) -> Response:
        if (refused := await self._authorized(request)) is not None:
            return refused
        session = self.sessions.get(request.path_params["sid"])
        if session is None:
            return error("No such checkout.session", 404)
        if session["status"] != "open":
            return error(f"This Checkout Session is {session['status']}", code="checkout_session_not_open")
        session["status"] = "expired"
        return JSONResponse(session)

    async def _refunds(self, request: Request) -> Response:
        if (refused := await self._authorized(request)) is not None:
            return refused
        if request.method == "GET":
            return self._list(list(self.refunds.values()), request, "/v1/refunds")
        key = request.headers.get("idempotency-key")
        if key and key in self.idempotent:
            return JSONResponse(self.idempotent[key])
        params = decode_form((await request.body()).decode())
        intent = params.get("payment_intent")
        session = next((s for s in self.sessions.values() if intent and s["payment_intent"] == intent), None)
        if session is None:
            return error("No such payment_intent", 404)
        done = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
        amount = int(params.get("amount") or session["amount_total"] - done)
        if amount <= 0 or done + amount > session["amount_total"]:
            return error("Refund amount is greater than unrefunded amount on charge", code="amount_too_large")
        refund = {
            "id": "re_" + secrets.token_hex(12),
            "object": "refund",
            "amount": amount,
            "currency": session["currency"],
            "payment_intent": intent,
            "status": "succeeded",
            "reason": params.get("reason"),
            "metadata": params.get("metadata") or {},
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        if key:
            self.idempotent[key] = refund
        return JSONResponse(refund)

    def _list(self, rows: list[dict[str, Any]], request: Request, url: str) -> Response:
        query = decode_form(request.url.query)
        created = query.get("created") or {}
        if "gte" in created:
            rows = [r for r in rows if r["created"] >= int(created["gte"])]
        if "lt" in created:
            rows = [r for r in rows if r["created"] < int(created["lt"])]
        for name in ("status", "payment_intent"):
            if name in query:
                rows = [r for r in rows if r.get(name) == query[name]]
        rows.sort(key=lambda r: r["created"], reverse=True)
        return JSONResponse({"object": "list", "url": url, "has_more": False, "data": rows})

    # ---- the hosted page the buyer sees ----------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        session = self.sessions.get(request.path_params["sid"])
        if session is None:
            return HTMLResponse("<p>No such checkout</p>", 404)
        if request.method == "GET":
            amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
            form = '<form method="post"><button data-testid="stripe-pay">Pay</button></form>'
            return HTMLResponse(f"<h1>Stripe (simulated)</h1><p data-testid=amount>{amount}</p>{form}")
        if session["status"] != "open":
            return HTMLResponse(f"<p>This checkout is {session['status']}</p>", 409)
        await self.pay(session["id"])
        return RedirectResponse(session["success_url"], 303)
