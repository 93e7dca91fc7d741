"""robots.txt and sitemap.xml."""

from __future__ import annotations

from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from knowcast.deps import Db, Public
from knowcast.rooms import service as rooms
from knowcast.web.templating import pages_of as pages

router = APIRouter()


@router.get("/robots.txt", dependencies=[Public])
async def robots(request: Request) -> Response:
    base = pages(request).settings.public_url.rstrip("/")
    lines = [
        "User-agent: *",
        "Disallow: /studio",
        "Disallow: /account",
        "Disallow: /api/",
        "Allow: /",
        f"Sitemap: {base}/sitemap.xml",
    ]
    return PlainTextResponse("\n".join(lines) + "\n")


@router.get("/sitemap.xml", dependencies=[Public])
async def sitemap(request: Request, db: Db) -> Response:
    base = pages(request).settings.public_url.rstrip("/")
    channel = await rooms.channel(db)
    urls = [f"<url><loc>{escape(base)}/</loc><changefreq>hourly</changefreq></url>"]
    for room in (*channel.live, *channel.upcoming, *channel.past):
        urls.append(
            f"<url><loc>{escape(base)}/rooms/{room.id}</loc>"
            f"<lastmod>{room.updated_at.date().isoformat()}</lastmod></url>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + "".join(urls) + "</urlset>\n"
    )
    return Response(body, media_type="application/xml")
