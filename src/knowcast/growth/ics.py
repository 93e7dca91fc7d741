"""An iCalendar file (RFC 5545) for one room, so a viewer can put the stream in their calendar.

Text is escaped (backslash, semicolon, comma, newline) and lines are folded at 75 octets without splitting
a UTF-8 character, as the RFC asks; times are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from knowcast.db.types import utcnow
from knowcast.rooms.models import Room

DEFAULT_DURATION = timedelta(hours=1)
ALARM_BEFORE = "-PT10M"
FOLD_AT = 75


def escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """Split a content line into 75-octet pieces joined by CRLF + space, never inside a character."""
    out: list[str] = []
    current, size, limit = "", 0, FOLD_AT
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            out.append(current)
            current, size, limit = "", 0, FOLD_AT - 1  # continuation lines start with a space
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def room_calendar(room: Room, public_url: str, site_name: str, host_name: str) -> str:
    base = public_url.rstrip("/")
    domain = urlsplit(base).hostname or "knowcast"
    start = room.started_at or room.scheduled_at
    end = room.ended_at or start + DEFAULT_DURATION
    url = f"{base}/rooms/{room.id}?utm_source=calendar&utm_medium=ics"
    description = "\n\n".join(part for part in (room.description.strip(), url) if part)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//{escape(site_name)}//Knowcast//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:room-{room.id}@{domain}",
        f"DTSTAMP:{_utc(utcnow())}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        f"SUMMARY:{escape(room.title)}",
        f"DESCRIPTION:{escape(description)}",
        f"URL:{url}",
        f"LOCATION:{escape(url)}",
        f"ORGANIZER;CN={_param(host_name)}:mailto:noreply@{domain}",
        "STATUS:CANCELLED" if room.ended_at and not room.started_at else "STATUS:CONFIRMED",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{escape(room.title)}",
        f"TRIGGER:{ALARM_BEFORE}",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(fold(line) for line in lines) + "\r\n"


def _param(value: str) -> str:
    """A parameter value: quoted, without the characters a quoted value cannot hold."""
    cleaned = "".join(ch for ch in value if ch not in '"\r\n' and ord(ch) >= 0x20)
    return f'"{cleaned}"'
