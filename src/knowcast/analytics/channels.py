"""Traffic channels as docs/metrics.md defines them: ``utm_source`` ‖ ``ref`` ‖ the referrer's host class.

Share links carry the utm parameters for one channel; their QR code encodes the same URL.
"""

from __future__ import annotations

import io
import re
from urllib.parse import urlencode, urlsplit

import segno

MAX_LENGTH = 64
SEARCH = ("google.", "bing.", "baidu.", "sogou.", "so.com", "sm.cn", "duckduckgo.", "yandex.", "yahoo.", "naver.")
SOCIAL = (
    "weibo.",
    "weixin.",
    "wechat.",
    "qq.com",
    "douyin.",
    "xiaohongshu.",
    "xhslink.",
    "zhihu.",
    "bilibili.",
    "kuaishou.",
    "twitter.",
    "x.com",
    "t.co",
    "facebook.",
    "fb.",
    "instagram.",
    "linkedin.",
    "reddit.",
    "youtube.",
    "tiktok.",
    "t.me",
    "telegram.",
    "line.me",
)
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def clean(value: str | None) -> str:
    """A channel label: trimmed, lower case, no spaces or punctuation but ``.-_``, at most 64 characters."""
    if not value:
        return ""
    return _UNSAFE.sub("_", value.strip().casefold())[:MAX_LENGTH].strip("_")


def referrer_class(referrer: str | None, own_host: str) -> str:
    host = (urlsplit(referrer).hostname or "") if referrer else ""
    if not host or host == own_host:
        return "direct"
    padded = "." + host
    if any(f".{mark}" in padded or host.endswith(mark) for mark in SEARCH):
        return "search"
    if any(f".{mark}" in padded or host.endswith(mark) for mark in SOCIAL):
        return "social"
    return "other"


def channel_of(utm_source: str | None, ref: str | None, referrer: str | None, own_host: str) -> str:
    return clean(utm_source) or clean(ref) or referrer_class(referrer, own_host)


def share_url(public_url: str, room_id: int, source: str, medium: str = "", campaign: str = "") -> str:
    query = {"utm_source": source}
    if medium:
        query["utm_medium"] = medium
    if campaign:
        query["utm_campaign"] = campaign
    return f"{public_url.rstrip('/')}/rooms/{room_id}?{urlencode(query)}"


def qr_svg(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=6, border=2)
    return out.getvalue()


def device_of(user_agent: str) -> str:
    ua = user_agent.casefold()
    if any(mark in ua for mark in ("bot", "spider", "crawl")):
        return "bot"
    if "ipad" in ua or "tablet" in ua:
        return "tablet"
    if any(mark in ua for mark in ("mobile", "android", "iphone", "micromessenger")):
        return "mobile"
    return "desktop" if ua else "unknown"
