"""The kinds of knowledge product, and what a buyer is granted for each."""

from __future__ import annotations

import enum


class ProductKind(enum.StrEnum):
    COURSE = "course"  # lessons (video, file or text) and the buyer's progress
    FILE = "file"  # files or an e-book, downloaded through signed expiring links
    CONSULTATION = "consultation"  # one bookable slot on the host's calendar per unit
    MEMBERSHIP = "membership"  # a period that opens members rooms
    TICKET = "ticket"  # entry to one ticketed room
    REPLAY = "replay"  # the recording of one room
    ITEM = "item"  # a plain item, delivered by the host by hand


class LessonKind(enum.StrEnum):
    VIDEO = "video"  # an uploaded video (served to entitled buyers only) or a video URL
    FILE = "file"  # an uploaded file (slides, worksheet), downloaded through a signed link
    TEXT = "text"  # safe markdown
    LINK = "link"  # an outside page (a live meeting, a shared document)


# lesson kinds whose content may be an uploaded file
UPLOAD_LESSONS = frozenset({LessonKind.VIDEO, LessonKind.FILE})


# kinds that are fully delivered the moment they are paid; a plain item waits for the host
DIGITAL = frozenset(set(ProductKind) - {ProductKind.ITEM})
# kinds that need a room
ROOM_KINDS = frozenset({ProductKind.TICKET, ProductKind.REPLAY})
