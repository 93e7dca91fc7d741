"""Every bus event, by name, with the model of its ``data`` (each domain declares its own in ``<domain>/events.py``).

Like app.py this is composition root: it may import every domain, and nothing but the root imports it.
create_app hands it to the bus, which checks each published event against it; tests/test_event_registry.py
holds docs/protocol.md's event tables and the publishers' names to it.
"""

from __future__ import annotations

from collections.abc import Mapping

from knowcast.accounts import events as accounts
from knowcast.bus import Payload
from knowcast.catalog import events as catalog
from knowcast.commerce import events as commerce
from knowcast.growth import events as growth
from knowcast.integrations import bus_events as integrations
from knowcast.interaction import events as interaction
from knowcast.media import events as media
from knowcast.privacy import events as privacy
from knowcast.rooms import events as rooms


def _merged(*parts: Mapping[str, type[Payload]]) -> dict[str, type[Payload]]:
    merged: dict[str, type[Payload]] = {}
    for part in parts:
        twice = merged.keys() & part.keys()
        assert not twice, f"events declared twice: {sorted(twice)}"
        merged.update(part)
    return merged


EVENTS: Mapping[str, type[Payload]] = _merged(
    accounts.EVENTS,
    privacy.EVENTS,
    catalog.EVENTS,
    rooms.EVENTS,
    interaction.EVENTS,
    media.EVENTS,
    growth.EVENTS,
    commerce.EVENTS,
    integrations.EVENTS,
)
