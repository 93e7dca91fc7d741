"""The error codes growth raises: the ``code`` of its errors' JSON body (docs/api.md, "Errors").

Values are a contract with API clients: add codes, never change one.
"""

from __future__ import annotations

from enum import StrEnum


class GrowthCode(StrEnum):
    EMBED_BAD_ORIGIN = "embed.bad_origin"
    EMBED_ORIGIN_TOO_BROAD = "embed.origin_too_broad"
    EMBED_SITE_NOT_FOUND = "embed.site_not_found"
    EMBED_TOO_MANY_SITES = "embed.too_many_sites"
    FAQ_KEYWORD_TOO_LONG = "faq.keyword_too_long"
    FAQ_MATCHES_EVERYTHING = "faq.matches_everything"
    FAQ_NOT_FOUND = "faq.not_found"
    FOLLOW_NO_SUCH_HOST = "follow.no_such_host"
    FOLLOW_SELF = "follow.self"
    POSTER_BAD_SOURCE = "poster.bad_source"
    REMINDER_ROOM_ENDED = "reminder.room_ended"
    REMINDER_ROOM_LIVE = "reminder.room_live"
    SHOW_BAD_PARAMS = "show.bad_params"
    SHOW_INTERRUPTED = "show.interrupted"
    SHOW_ROOM_ENDED = "show.room_ended"
    SHOW_ROOM_NOT_LIVE = "show.room_not_live"
    SHOW_STEP_ALREADY_RUN = "show.step_already_run"
    SHOW_STEP_NOT_FAILED = "show.step_not_failed"
    SHOW_STEP_NOT_FOUND = "show.step_not_found"
    SHOW_STEP_RUNNING = "show.step_running"
    SHOW_TOO_MANY_STEPS = "show.too_many_steps"
