"""Which webhook URLs are acceptable: http(s), a host, no credentials, and (outside development) a public address.

Private destinations are refused twice: when the URL is saved (literal addresses and local names) and before
each attempt (what the host name resolves to then), so a name that later points inside the network is caught.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from knowcast.errors import ValidationFailed
from knowcast.integrations.errors import IntegrationsCode

LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


def _refuse(message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={"url": message})


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL, stripped; ValidationFailed with a ``webhook.url_*`` code when it cannot be used."""
    url = url.strip()
    if not url or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _refuse("the URL is empty or has spaces in it", IntegrationsCode.WEBHOOK_URL_INVALID)
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError as exc:
        raise _refuse("the URL cannot be read", IntegrationsCode.WEBHOOK_URL_INVALID) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise _refuse("only http:// and https:// URLs can receive webhooks", IntegrationsCode.WEBHOOK_URL_SCHEME)
    if not parts.hostname:
        raise _refuse("the URL has no host", IntegrationsCode.WEBHOOK_URL_INVALID)
    if parts.username is not None or parts.password is not None:
        raise _refuse(
            "put credentials in the receiver's checks, not in the URL", IntegrationsCode.WEBHOOK_URL_CREDENTIALS
        )
    if parts.fragment:
        raise _refuse("a URL with a #fragment is not sent to the server", IntegrationsCode.WEBHOOK_URL_INVALID)
    if not allow_private and is_private_host(parts.hostname):
        raise _refuse("this URL points at a private or local address", IntegrationsCode.WEBHOOK_URL_PRIVATE)
    return url


def is_private_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(LOCAL_SUFFIXES):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a name: checked again, resolved, before each attempt


async def resolves_private(url: str) -> bool:
    """True when the URL's host is, or now resolves to, any non-public address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_private_host(host):
        return True
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return False  # the attempt itself reports the resolution failure
    return any(not ipaddress.ip_address(info[4][0]).is_global for info in infos)
