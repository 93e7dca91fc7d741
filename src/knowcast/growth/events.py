"""Growth's bus events: follows, reminders, FAQ auto-replies, run-of-show.

Each bus event growth publishes is one model here (extra fields forbidden): what its ``data`` holds, nothing about
how it is delivered (that is the envelope's, knowcast.bus.Event). knowcast/event_registry.py lists them all; the
bus checks each published event against its model (docs/protocol.md, "Events").
"""

from __future__ import annotations

from typing import Any

from knowcast.bus import Payload


class HostFollowed(Payload):
    user_id: int
    followers: int
    host_id: int
    room_id: int | None


class ChannelFollowed(Payload):
    user_id: int
    followers: int


class Unfollowed(Payload):
    """``host.unfollowed`` and ``channel.unfollowed``."""

    user_id: int
    host_id: int
    followers: int


class ReminderChanged(Payload):
    """``reminder.booked`` and ``reminder.cancelled``."""

    room_id: int
    host_id: int
    user_id: int
    reminders: int


class RemindersNotified(Payload):
    room_id: int
    count: int


class FaqChanged(Payload):
    host_id: int
    faq_room_id: int | None


class FaqReplied(Payload):
    room_id: int
    auto: bool
    faq_id: int
    keyword: str
    user_id: int
    to: str | None
    answer: str
    text: str
    message: str  # the catalog key each viewer's page writes the line from, with params
    params: dict[str, str]


class ShowStep(Payload):
    """``show.step_done`` (with ``result`` and ``text``) and ``show.step_failed`` (with ``code``)."""

    room_id: int
    step_id: int
    position: int
    kind: str
    title: str
    planned_at: str | None
    started_at: str | None
    delay_seconds: int | None
    run_by: str | None
    result: dict[str, Any] | None = None
    text: str | None = None
    code: str | None = None


class QaCalled(Payload):
    room_id: int
    text: str


EVENTS: dict[str, type[Payload]] = {
    "host.followed": HostFollowed,
    "host.unfollowed": Unfollowed,
    "channel.followed": ChannelFollowed,
    "channel.unfollowed": Unfollowed,
    "reminder.booked": ReminderChanged,
    "reminder.cancelled": ReminderChanged,
    "reminder.notified": RemindersNotified,
    "faq.changed": FaqChanged,
    "faq.replied": FaqReplied,
    "show.step_done": ShowStep,
    "show.step_failed": ShowStep,
    "show.qa_called": QaCalled,
}
