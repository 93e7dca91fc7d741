"""The catalog's bus events.

Each bus event the catalog publishes is one model here (extra fields forbidden): what its ``data`` holds, nothing about
how it is delivered (that is the envelope's, knowcast.bus.Event). knowcast/event_registry.py lists them all; the
bus checks each published event against its model (docs/protocol.md, "Events").
"""

from __future__ import annotations

from knowcast.bus import Payload


class ProductCreated(Payload):
    product_id: int
    host_id: int


class ProductUpdated(Payload):
    product_id: int


EVENTS: dict[str, type[Payload]] = {"product.created": ProductCreated, "product.updated": ProductUpdated}
