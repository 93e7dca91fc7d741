"""The error codes catalog raises: the ``code`` of its errors' JSON body (docs/api.md, "Errors").

Values are a contract with API clients: add codes, never change one.
"""

from __future__ import annotations

from enum import StrEnum


class CatalogCode(StrEnum):
    FILE_NOT_FOUND = "file.not_found"
    LESSON_CONTENT_MISSING = "lesson.content_missing"
    LESSON_FILE_EMPTY = "lesson.file_empty"
    LESSON_FILE_TOO_LARGE = "lesson.file_too_large"
    LESSON_LINK_MISSING = "lesson.link_missing"
    LESSON_LOCKED = "lesson.locked"
    LESSON_NOT_FOUND = "lesson.not_found"
    LESSON_ORDER_MISMATCH = "lesson.order_mismatch"
    LESSON_UPLOAD_NOT_ALLOWED = "lesson.upload_not_allowed"
    LESSON_VIDEO_TYPE = "lesson.video_type"
    PRODUCT_FILE_MISSING = "product.file_missing"
    PRODUCT_FILE_TOO_LARGE = "product.file_too_large"
    PRODUCT_LIST_PRICE_BELOW_PRICE = "product.list_price_below_price"
    PRODUCT_NOT_A_CONSULTATION = "product.not_a_consultation"
    PRODUCT_NOT_A_COURSE = "product.not_a_course"
    PRODUCT_NOT_A_FILE = "product.not_a_file"
    PRODUCT_NOT_FOUND = "product.not_found"
    PRODUCT_NOT_HOST = "product.not_host"
    SLOT_BOOKED = "slot.booked"
    SLOT_NOT_FOUND = "slot.not_found"
