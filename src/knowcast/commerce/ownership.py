"""Whose products and coupons a promotion may name: refused when it is written, not when it is used.

Coupons, experiments, run-of-show steps and draws name products and coupons by id; each must be the host's
own (the shop owner may name anyone's), so that a host can neither sell nor give away another host's goods,
nor learn by trial which ids exist. Another host's product answers ``403 product.not_host`` as the catalog
does; another host's coupon ``404 coupon.not_found`` as coupons.get_managed does.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from knowcast.catalog import service as catalog
from knowcast.catalog.errors import CatalogCode
from knowcast.commerce.errors import CommerceCode
from knowcast.commerce.promotions import Coupon
from knowcast.errors import NotFound, PermissionDenied


async def ensure_owned(
    session: AsyncSession,
    host_id: int,
    *,
    product_ids: Iterable[int | None] = (),
    coupon_ids: Iterable[int | None] = (),
    field: str = "product_id",
) -> None:
    """Raise unless every named product and coupon belongs to the host ``host_id`` (None ids are skipped)."""
    for product_id in product_ids:
        if product_id is not None:
            product = await catalog.get_product(session, product_id)
            if product.host_id != host_id:
                raise PermissionDenied(
                    "this product belongs to another host",
                    code=CatalogCode.PRODUCT_NOT_HOST,
                    fields={field: str(product_id)},
                )
    for coupon_id in coupon_ids:
        if coupon_id is not None:
            coupon = await session.get(Coupon, coupon_id)
            if coupon is None or coupon.host_id != host_id:
                raise NotFound(
                    "no such coupon", code=CommerceCode.COUPON_NOT_FOUND, fields={"coupon_id": str(coupon_id)}
                )
