"""What one viewer is offered in a room while the host runs experiments (A/B/n on price, coupon value, pitch
text or product card): each from the viewer's variant — the keyed-hash assignment the experiments port
gives (knowcast.ports, filled by analytics), computed on the server from the visitor id — never from the
client.

Variant payloads (the first variant is the control, usually ``{}``); ``product_id`` / ``coupon_id`` aim a
variant at one product or coupon, without it the variant applies to all of the host's:

- price:  ``{"product_id", "price": minor units}`` or ``{"product_id", "price_change": -0.9…5}`` (relative)
- coupon: ``{"coupon_id", "value": minor units off, or percent for a percent coupon}``
- pitch:  ``{"product_id", "pitch": text shown on the product sheet}``
- card:   ``{"product_id", "title", "badge", "cover_url"}`` (any of them)

A payload that does not fit (a negative or absurd price, a percent above 100, a value of the wrong type) is
ignored, so the viewer gets what the control gets. Flash sales keep their own price.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.accounts.models import User
from knowcast.catalog.schemas import MAX_PRICE, ProductPublic
from knowcast.commerce.promotions import Coupon, CouponKind
from knowcast.commerce.schemas import ShelfEntry
from knowcast.context import AppContext
from knowcast.ports import Assigned

MAX_TEXT = 200
Visitor = Callable[[], Awaitable[str | None]]
SAFE_COVER = ("/", "https://")


def _int(value: Any, low: int, high: int) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else None


def _text(value: Any) -> str | None:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) and value.strip() else None


def _aims_at(payload: dict[str, Any], key: str, target: int) -> bool:
    aim = payload.get(key)
    return aim is None or aim == target


def price_from(payload: dict[str, Any], base: int) -> int | None:
    """A price variant's price for a product whose catalog price is ``base``; None: the payload does not fit."""
    absolute = _int(payload.get("price"), 0, MAX_PRICE)
    if absolute is not None:
        return absolute
    change = payload.get("price_change")
    if isinstance(change, int | float) and not isinstance(change, bool) and -0.9 <= change <= 5:
        return min(MAX_PRICE, max(0, round(base * (1 + change))))
    return None


@dataclass(frozen=True, slots=True)
class Viewer:
    """A viewer's variants in one room; without any, everyone gets the catalog."""

    assigned: tuple[Assigned, ...] = ()

    @property
    def variants(self) -> dict[str, str]:
        return {a.experiment: a.variant for a in self.assigned}

    def _for(self, subject: str, key: str, target: int) -> list[Assigned]:
        return [a for a in self.assigned if a.subject == subject and _aims_at(a.payload, key, target)]

    def price(self, product_id: int, base: int) -> int:
        for variant in self._for("price", "product_id", product_id):
            if (price := price_from(variant.payload, base)) is not None:
                return price
        return base

    def dress(self, entry: ShelfEntry) -> ShelfEntry:
        """The shelf entry as this viewer sees it: their price, their card, their pitch."""
        product = entry.product
        changes: dict[str, Any] = {"price": self.price(product.id, product.price)}
        badge = pitch = None
        for variant in self._for("card", "product_id", product.id):
            payload = variant.payload
            if title := _text(payload.get("title")):
                changes["title"] = title
            cover = _text(payload.get("cover_url"))
            if cover and cover.startswith(SAFE_COVER):
                changes["cover_url"] = cover
            badge = _text(payload.get("badge")) or badge
        for variant in self._for("pitch", "product_id", product.id):
            pitch = _text(variant.payload.get("pitch")) or pitch
        dressed: ProductPublic = product.model_copy(update=changes)
        return entry.model_copy(update={"product": dressed, "pitch": pitch, "badge": badge})

    def coupon_value(self, coupon: Coupon) -> tuple[int, Assigned] | None:
        """The value this viewer's coupon variant gives a dropped coupon, and the variant; None: the coupon's."""
        high = 100 if coupon.kind is CouponKind.PERCENT else MAX_PRICE
        for variant in self._for("coupon", "coupon_id", coupon.id):
            if (value := _int(variant.payload.get("value"), 1, high)) is not None:
                return value, variant
        return None


NOBODY = Viewer()


async def anonymous() -> str | None:
    """No visitor id (an order made outside a room page): no variants."""
    return None


async def viewer_in(ctx: AppContext, session: AsyncSession, host_id: int, room_id: int, visitor: Visitor) -> Viewer:
    """The viewer's variants; ``visitor`` gives their visitor id, and is only asked when the host runs
    experiments (finding it may cost a database round trip)."""
    experiments = ctx.experiments
    if experiments is None or not await experiments.any_running(session, host_id):
        return NOBODY
    found = await visitor()
    return Viewer(tuple(await experiments.assigned(session, host_id, room_id, found))) if found else NOBODY


def visitor_of(request: Request, ctx: AppContext, user: User | None) -> Visitor:
    """How to find the caller's visitor id, asked only when the host runs experiments."""
    experiments = ctx.experiments
    if experiments is None:
        return anonymous
    return partial(experiments.visitor_of, request, user)
