"""The one interface every payment provider implements; subclasses only do the provider's I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from knowcast.errors import PermissionDenied


class EventKind(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
    EXPIRED = "expired"  # the checkout was abandoned or timed out without payment


@dataclass(frozen=True)
class CheckoutSession:
    reference: str  # the provider's id for this checkout
    url: str  # where the buyer pays


@dataclass(frozen=True)
class CheckoutRequest:
    order_id: int
    amount: int
    currency: str
    title: str
    return_url: str  # back to the room after paying (or not)


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook, reduced to what the order needs."""

    event_id: str
    kind: EventKind
    reference: str | None
    order_id: int | None
    amount: int | None = None


class WebhookRejected(PermissionDenied):
    code = "payment.bad_signature"


class PaymentProvider:
    name = "base"

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise NotImplementedError

    def verify(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent | None:
        """Check the signature and parse the event; None for an event kind we do not act on.

        Raises WebhookRejected for a missing, forged or stale signature.
        """
        raise NotImplementedError

    async def refund(self, reference: str, amount: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections."""
