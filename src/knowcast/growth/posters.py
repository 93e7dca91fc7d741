"""Share posters (海报): a 750×1334 PNG for one room (or the channel) and one traffic channel, with the cover,
title, time, host, and a QR code of the share link that carries the channel's utm parameters.

Text that does not fit is wrapped, then shortened with "…" on a grapheme boundary (textfit.py). Rendering is
CPU work: callers run ``render`` in a thread and keep the PNG (``cache_key`` names it).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageOps

from knowcast import i18n
from knowcast.growth import fonts, textfit

WIDTH, HEIGHT = 750, 1334
MARGIN = 48
COVER_HEIGHT = 400
QR_TOP = HEIGHT - 300 - 150  # the QR code's top edge; its band starts 30 px above
QR_SIZE = 300
INK, MUTED, ACCENT, PAPER, SOFT = (28, 28, 30), (110, 110, 115), (255, 45, 85), (255, 255, 255), (255, 236, 240)
TITLE_SIZE, TITLE_LINES = 52, 3
TEXT_SIZE = 30
DESCRIPTION_SIZE, DESCRIPTION_LINES = 26, 2


@dataclass(frozen=True)
class PosterSpec:
    locale: str
    title: str
    when: str  # already formatted in the shop's time zone
    state: str  # scheduled | live | reconnecting | ended | channel
    host: str
    description: str
    url: str  # what the QR code holds
    site_name: str
    cover: Path | None = None


def cache_key(spec: PosterSpec, font: fonts.FontChoice) -> str:
    cover = f"{spec.cover}:{spec.cover.stat().st_mtime_ns}" if spec.cover and spec.cover.exists() else ""
    raw = "\x1f".join((*(str(v) for v in spec.__dict__.values()), cover, str(font)))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def render(spec: PosterSpec, font: fonts.FontChoice) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    _cover(image, spec)
    y = COVER_HEIGHT + 40
    y = _text(draw, font, spec.title, TITLE_SIZE, TITLE_LINES, y, INK, line_gap=14)
    y += 18
    label = i18n.translate(spec.locale, f"growth.poster.{spec.state}")
    y = _text(draw, font, f"{label}  {spec.when}".strip(), TEXT_SIZE, 1, y, ACCENT)
    if spec.host:
        y = _text(
            draw, font, i18n.translate(spec.locale, "growth.poster.host", name=spec.host), TEXT_SIZE, 1, y + 8, MUTED
        )
    room_for = (QR_TOP - 50 - (y + 16)) // (DESCRIPTION_SIZE + 8)  # lines that fit above the QR band
    if spec.description and room_for > 0:
        lines = min(DESCRIPTION_LINES, room_for)
        _text(draw, font, spec.description, DESCRIPTION_SIZE, lines, y + 16, MUTED, line_gap=8)
    _qr_block(image, draw, font, spec)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _cover(image: Image.Image, spec: PosterSpec) -> None:
    if spec.cover is not None and spec.cover.is_file():
        try:
            with Image.open(spec.cover) as cover:
                fitted = ImageOps.fit(cover.convert("RGB"), (WIDTH, COVER_HEIGHT))
            image.paste(fitted, (0, 0))
            return
        except OSError:
            pass  # an unreadable cover gets the plain band below
    band = Image.linear_gradient("L").rotate(90).resize((WIDTH, COVER_HEIGHT))
    image.paste(ImageOps.colorize(band, ACCENT, (255, 140, 160)), (0, 0))


def _text(
    draw: ImageDraw.ImageDraw,
    font: fonts.FontChoice,
    text: str,
    size: int,
    max_lines: int,
    y: int,
    color: tuple[int, int, int],
    line_gap: int = 6,
) -> int:
    face = fonts.load(font, size)
    for line in textfit.fit(text, face.getlength, WIDTH - 2 * MARGIN, max_lines):
        draw.text((MARGIN, y), line, font=face, fill=color)
        y += size + line_gap
    return y


def _qr_block(image: Image.Image, draw: ImageDraw.ImageDraw, font: fonts.FontChoice, spec: PosterSpec) -> None:
    top = QR_TOP
    draw.rectangle((0, top - 30, WIDTH, HEIGHT), fill=SOFT)
    qr = qr_image(spec.url, QR_SIZE)
    image.paste(qr, ((WIDTH - QR_SIZE) // 2, top))
    caption = fonts.load(font, 28)
    text = textfit.shorten(i18n.translate(spec.locale, "growth.poster.scan"), caption.getlength, WIDTH - 2 * MARGIN)
    draw.text((WIDTH // 2, top + QR_SIZE + 24), text, font=caption, fill=INK, anchor="ma")
    small = fonts.load(font, 22)
    site = textfit.shorten(spec.site_name, small.getlength, WIDTH - 2 * MARGIN)
    draw.text((WIDTH // 2, top + QR_SIZE + 70), site, font=small, fill=MUTED, anchor="ma")


def qr_image(url: str, size: int) -> Image.Image:
    """The QR code of ``url`` as a black-on-white image ``size`` pixels wide (quiet zone included)."""
    code = segno.make(url, error="m")
    border = 2
    modules = int(code.symbol_size(scale=1, border=border)[0])
    scale = max(1, size // modules)
    image = Image.new("L", (modules, modules), 255)
    pixels = image.load()
    assert pixels is not None
    for row, bits in enumerate(code.matrix):
        for col, bit in enumerate(bits):
            if bit:
                pixels[col + border, row + border] = 0
    image = image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
    return ImageOps.pad(image.convert("RGB"), (size, size), color=PAPER)
