"""The error codes media raises: the ``code`` of its errors' JSON body (docs/api.md, "Errors").

Values are a contract with API clients: add codes, never change one.
"""

from __future__ import annotations

from enum import StrEnum


class MediaCode(StrEnum):
    MEDIA_ACTION_REFUSED = "media.action_refused"
    MEDIA_ALREADY_PUBLISHING = "media.already_publishing"
    MEDIA_BAD_OFFER = "media.bad_offer"
    MEDIA_DISK_FULL = "media.disk_full"
    MEDIA_DROPPED_FRAMES = "media.dropped_frames"
    MEDIA_FFMPEG_FAILED = "media.ffmpeg_failed"
    MEDIA_FFMPEG_MISSING = "media.ffmpeg_missing"
    MEDIA_FFMPEG_RESTARTED = "media.ffmpeg_restarted"
    MEDIA_HOOK_SECRET = "media.hook_secret"
    MEDIA_HOOKS_OFF = "media.hooks_off"
    MEDIA_INVITE_EXPIRED = "media.invite_expired"
    MEDIA_INVITE_FOR_ANOTHER = "media.invite_for_another"
    MEDIA_INVITE_INVALID = "media.invite_invalid"
    MEDIA_INVITE_REQUIRED = "media.invite_required"
    MEDIA_INVITE_USED = "media.invite_used"
    MEDIA_JANUS_REFUSED = "media.janus_refused"
    MEDIA_JANUS_UNREACHABLE = "media.janus_unreachable"
    MEDIA_KEY_REQUIRED = "media.key_required"
    MEDIA_KEY_ROTATED = "media.key_rotated"
    MEDIA_KEYFRAME_INTERVAL = "media.keyframe_interval"
    MEDIA_LOW_BITRATE = "media.low_bitrate"
    MEDIA_LOW_FPS = "media.low_fps"
    MEDIA_NO_GUEST = "media.no_guest"
    MEDIA_NO_SEGMENT = "media.no_segment"
    MEDIA_NO_SESSION = "media.no_session"
    MEDIA_NO_VARIANT = "media.no_variant"
    MEDIA_NO_VIDEO = "media.no_video"
    MEDIA_NO_VIDEO_OFFER = "media.no_video_offer"
    MEDIA_NOT_A_GUEST = "media.not_a_guest"
    MEDIA_NOT_PUBLISHING = "media.not_publishing"
    MEDIA_ROOM_ENDED = "media.room_ended"
    MEDIA_SECOND_PUBLISHER = "media.second_publisher"
    MEDIA_SIGNIN_REQUIRED = "media.signin_required"
    MEDIA_SLOW_TRANSCODE = "media.slow_transcode"
    MEDIA_STAGE_FULL = "media.stage_full"
    MEDIA_STALLED = "media.stalled"
    MEDIA_TRANSCODING = "media.transcoding"
    MEDIA_UNSUPPORTED_CODEC = "media.unsupported_codec"
    MEDIA_WEBRTC_BUSY = "media.webrtc_busy"
    MEDIA_WEBRTC_FULL = "media.webrtc_full"
    MEDIA_WEBRTC_OFF = "media.webrtc_off"
    MEDIA_WRONG_APP = "media.wrong_app"
    MEDIA_WRONG_KEY = "media.wrong_key"
