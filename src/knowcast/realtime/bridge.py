"""Bus → room: every domain event sent ``to_room`` (with an int ``room_id``) rides the room's next tick.

Such events are priority messages: never sampled away like chat under load. The browser dispatches each on
``document`` as a ``knowcast:event`` CustomEvent (static/js/_live.js).
"""

from __future__ import annotations

from knowcast.bus import Event, EventBus
from knowcast.realtime.fanout import backend_for
from knowcast.realtime.hub import Hub
from knowcast.settings import Settings


def build_hub(settings: Settings) -> Hub:
    return Hub(
        backend_for(settings.redis_url, settings.realtime_redis_prefix),
        tick_seconds=settings.realtime_tick_ms / 1000,
        history=settings.realtime_history,
        presence_timeout=settings.realtime_presence_timeout_seconds,
        buffer_limit=settings.realtime_send_buffer_bytes,
    )


def connect(bus: EventBus, hub: Hub) -> None:
    async def forward(event: Event) -> None:
        room_id = event.data.get("room_id")
        if event.to_room and isinstance(room_id, int) and not isinstance(room_id, bool):
            hub.submit_event(room_id, event.name, event.wire())

    bus.subscribe("*", forward)
