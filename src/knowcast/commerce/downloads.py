"""How a bought file is served: never as something the browser would run on the site's origin.

The uploader chose the file and its declared type, so the answer carries a type from ``SAFE_TYPES`` (anything
else, ``text/html`` or ``image/svg+xml`` among them, goes out as ``application/octet-stream``),
``Content-Disposition: attachment``, ``X-Content-Type-Options: nosniff`` and ``Content-Security-Policy:
sandbox`` (were it opened anyway, a document runs no script and has an opaque origin). With
``KNOWCAST_DOWNLOAD_URL`` set (an origin of its own, e.g. ``https://dl.example.com``, pointing at the same
app), the links point there and a download asked for on the site's own origin is redirected to it, so even a
file that slipped through never shares the shop's origin, its cookies or its storage.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

SAFE_TYPES = frozenset(
    {
        "application/pdf",
        "application/epub+zip",
        "application/zip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "audio/aac",
        "audio/mp4",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/webp",
        "text/csv",
        "text/plain",
        "video/mp4",
        "video/quicktime",
        "video/webm",
    }
)
HEADERS = {
    "content-security-policy": "sandbox",
    "x-content-type-options": "nosniff",
    "cache-control": "private, no-store",
}


def safe_type(declared: str | None) -> str:
    """The type to answer with: the declared one when it is on the list (text keeps UTF-8), else a byte stream."""
    base = (declared or "").split(";", 1)[0].strip().lower()
    if base not in SAFE_TYPES:
        return "application/octet-stream"
    return f"{base}; charset=utf-8" if base.startswith("text/") else base


def elsewhere(request: Request, download_url: str) -> Response | None:
    """A redirect to the download origin when one is set and this request came to another host."""
    if not download_url:
        return None
    origin = urlsplit(download_url)
    if request.headers.get("host", "").lower() == origin.netloc.lower():
        return None
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"{download_url.rstrip('/')}{request.url.path}{query}", status_code=307)
