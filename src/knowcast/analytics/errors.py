"""The error codes analytics raises: the ``code`` of its errors' JSON body (docs/api.md, "Errors").

Values are a contract with API clients: add codes, never change one.
"""

from __future__ import annotations

from enum import StrEnum


class AnalyticsCode(StrEnum):
    ADVICE_NOT_FOUND = "advice.not_found"
    ANALYTICS_NOT_FOUND = "analytics.not_found"
    ANALYTICS_ROOM_UNKNOWN = "analytics.room_unknown"
    COST_AMOUNT_INVALID = "cost.amount_invalid"
    COST_CHANNEL_REQUIRED = "cost.channel_required"
    COST_NOT_FOUND = "cost.not_found"
    EXPERIMENT_DUPLICATE_VARIANT = "experiment.duplicate_variant"
    EXPERIMENT_INVALID_PLAN = "experiment.invalid_plan"
    EXPERIMENT_NOT_FOUND = "experiment.not_found"
    EXPERIMENT_PLAN_IMPOSSIBLE = "experiment.plan_impossible"
    EXPERIMENT_STOPPED = "experiment.stopped"
    HISTORY_BAD_ROWS = "history.bad_rows"
    HISTORY_EMPTY = "history.empty"
    HISTORY_MISSING_COLUMN = "history.missing_column"
    LINK_NOT_FOUND = "link.not_found"
    LINK_SOURCE_REQUIRED = "link.source_required"
    PLAN_INVALID = "plan.invalid"
    SEGMENT_NOT_FOUND = "segment.not_found"
