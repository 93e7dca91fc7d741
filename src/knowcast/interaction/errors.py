"""The error codes interaction raises: the ``code`` of its errors' JSON body (docs/api.md, "Errors").

Values are a contract with API clients: add codes, never change one.
"""

from __future__ import annotations

from enum import StrEnum


class InteractionCode(StrEnum):
    CHAT_BANNED = "chat.banned"
    CHAT_BLOCKED_WORD = "chat.blocked_word"
    CHAT_CANNOT_SANCTION = "chat.cannot_sanction"
    CHAT_EMPTY = "chat.empty"
    CHAT_MUTED = "chat.muted"
    CHAT_NOT_MODERATOR = "chat.not_moderator"
    CHAT_RATE_LIMITED = "chat.rate_limited"
    CHAT_SIGNIN_REQUIRED = "chat.signin_required"
    CHAT_SLOW_MODE = "chat.slow_mode"
    CHAT_TOO_LONG = "chat.too_long"
    CHAT_UNAVAILABLE = "chat.unavailable"
    POLL_ALREADY_OPEN = "poll.already_open"
    POLL_ALREADY_VOTED = "poll.already_voted"
    POLL_BAD_OPTION = "poll.bad_option"
    POLL_CLOSED = "poll.closed"
    POLL_NOT_FOUND = "poll.not_found"
    QA_ALREADY_VOTED = "qa.already_voted"
    QA_CANNOT_ANSWER = "qa.cannot_answer"
    QA_NOT_FOUND = "qa.not_found"
