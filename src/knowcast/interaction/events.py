"""Interaction's bus events: chat, moderation, likes, Q&A and polls.

Each bus event interaction publishes is one model here (extra fields forbidden): what its ``data`` holds, nothing about
how it is delivered (that is the envelope's, knowcast.bus.Event). knowcast/event_registry.py lists them all; the
bus checks each published event against its model (docs/protocol.md, "Events").
"""

from __future__ import annotations

from typing import Any

from knowcast.bus import Payload


class ChatMessage(Payload):
    """An accepted chat line (not sent to the room as an event: the line itself rides the tick's chat)."""

    room_id: int
    user_id: int | None
    message_id: str
    length: int
    text: str
    name: str | None


class ChatHidden(Payload):
    """A moderator's hide; with ``purge`` every line of ``user_id``; with ``order_ids`` the lines announcing them."""

    room_id: int
    message_id: str | None
    by: int | None
    user_id: int | None = None
    purge: bool = False
    order_ids: list[int] | None = None


class Sanctioned(Payload):
    """``chat.user_banned`` and ``chat.user_muted``."""

    room_id: int
    user_id: int
    name: str | None
    until: str | None


class RoomPerson(Payload):
    """A sanction lifted, a moderator or guest removed, a deleted account's questions, its sessions ended."""

    room_id: int
    user_id: int


class SlowMode(Payload):
    room_id: int
    seconds: int


class ModeratorAdded(Payload):
    room_id: int
    user_id: int
    name: str | None


class GuestAdded(Payload):
    room_id: int
    user_id: int
    name: str | None
    title: str


class QuestionChanged(Payload):
    """``qa.asked`` and ``qa.updated``: the whole question (docs/protocol.md QUESTION)."""

    room_id: int
    question: dict[str, Any]


class PollChanged(Payload):
    """``poll.opened``, ``poll.results`` and ``poll.closed`` (docs/protocol.md POLL)."""

    room_id: int
    poll: dict[str, Any]


class PollVoted(Payload):
    room_id: int
    poll_id: int
    user_id: int


class LikesTapped(Payload):
    room_id: int
    user_id: int | None
    viewer: str
    count: int


class BannedWordsChanged(Payload):
    pass


EVENTS: dict[str, type[Payload]] = {
    "chat.message": ChatMessage,
    "chat.hidden": ChatHidden,
    "chat.user_banned": Sanctioned,
    "chat.user_muted": Sanctioned,
    "chat.user_unbanned": RoomPerson,
    "chat.user_unmuted": RoomPerson,
    "chat.slow_mode": SlowMode,
    "chat.sessions_ended": RoomPerson,
    "chat.banned_words_changed": BannedWordsChanged,
    "room.moderator_added": ModeratorAdded,
    "room.moderator_removed": RoomPerson,
    "room.guest_added": GuestAdded,
    "room.guest_removed": RoomPerson,
    "qa.asked": QuestionChanged,
    "qa.updated": QuestionChanged,
    "qa.removed": RoomPerson,
    "poll.opened": PollChanged,
    "poll.results": PollChanged,
    "poll.closed": PollChanged,
    "poll.voted": PollVoted,
    "likes.tapped": LikesTapped,
}
