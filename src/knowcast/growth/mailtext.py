"""The words of the mail a booked viewer gets when a room goes live, in the viewer's language."""

from __future__ import annotations

from urllib.parse import urlencode

from knowcast import i18n
from knowcast.settings import Settings


def room_link(public_url: str, room_id: int, source: str = "reminder", medium: str = "email") -> str:
    """The room's address with the channel parameters that attribute the visit to the reminder."""
    query = urlencode({"utm_source": source, "utm_medium": medium})
    return f"{public_url.rstrip('/')}/rooms/{room_id}?{query}"


def live_mail(locale: str, title: str, url: str, settings: Settings) -> tuple[str, str]:
    """(subject, plain-text body)."""
    locale = locale if locale in i18n.LOCALES else settings.default_locale
    subject = i18n.translate(locale, "growth.mail.live_subject", title=title)
    body = i18n.translate(locale, "growth.mail.live_body", title=title, url=url, site=settings.site_name)
    return subject[:200], body
