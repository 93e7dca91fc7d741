"""The error codes realtime raises: the ``code`` of its errors' JSON body (docs/api.md, "Errors").

Values are a contract with API clients: add codes, never change one.
"""

from __future__ import annotations

from enum import StrEnum


class RealtimeCode(StrEnum):
    PROTOCOL_ALREADY_JOINED = "protocol.already_joined"
    PROTOCOL_BINARY_UNSUPPORTED = "protocol.binary_unsupported"
    PROTOCOL_FLOODING = "protocol.flooding"
    PROTOCOL_MALFORMED = "protocol.malformed"
    PROTOCOL_NOT_JOINED = "protocol.not_joined"
    PROTOCOL_TOO_LARGE = "protocol.too_large"
    PROTOCOL_UNKNOWN_TYPE = "protocol.unknown_type"
    PROTOCOL_UNSUPPORTED_VERSION = "protocol.unsupported_version"
