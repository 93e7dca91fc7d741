"""The review report as a CSV file (sections one after another) and as a card to share, PNG or PDF (Pillow):
headline figures, the viewers curve with sales, the funnel, the best-selling products and the run-of-show
(planned against actual times).

The card uses a CJK font when the system has one (Noto Sans CJK, WenQuanYi), so Chinese titles render; else
Pillow's own font and English labels.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from knowcast.money import money

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
WIDTH, HEIGHT = 1080, 1350
INK, MUTED, ACCENT, LIGHT = (28, 28, 30), (110, 110, 115), (255, 45, 85), (255, 214, 224)
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "metric", "value"])
    w.writerow(["attribution", "model", report["attribution"]["model"]])
    w.writerow(["attribution", "window_hours", report["attribution"]["window_hours"]])
    for key, value in report["summary"].items():
        w.writerow(["summary", key, _cell(value)])
    for key, value in report["costs"].items():
        if not isinstance(value, dict):
            w.writerow(["costs", key, _cell(value)])
    _table(w, "funnel", report["funnel"])
    _table(w, "timeline", report["timeline"])
    _table(w, "markers", [{k: v for k, v in mk.items() if k != "t"} for mk in report["markers"]])
    _table(w, "products", report["products"])
    _table(w, "promotions", report.get("promotions") or [])
    faq_rows = [{**x, "keywords": _keywords(x["keywords"])} for x in report.get("faq") or []]
    _table(w, "faq", faq_rows)
    _table(w, "run_of_show", report.get("run_of_show") or [])
    _table(w, "channels", report["channels"])
    change = (report.get("previous") or {}).get("change") or {}
    for name in ("terms", "shares"):
        for factor, value in (change.get(name) or {}).items():
            w.writerow(["apv_change", f"{name}.{factor}", _cell(value)])
    return out.getvalue()


def _keywords(counts: dict[str, int]) -> str:
    return "; ".join(f"{k}×{n}" for k, n in counts.items())


def _table(w: Any, section: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    w.writerow([])
    columns = list(rows[0])
    w.writerow([section, *columns])
    for row in rows:
        w.writerow([section, *(_cell(row.get(c)) for c in columns)])


def font(size: int) -> Font:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size)


def _money(minor: int | float | None, currency: str | None) -> str:
    return money(minor or 0, currency or "CNY")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


CARD_PRODUCTS = 5
CARD_STEPS = 12
ROW = 46


def to_png(report: dict[str, Any], title: str, labels: Callable[[str], str]) -> bytes:
    return _save(card(report, title, labels), "PNG", optimize=True)


def to_pdf(report: dict[str, Any], title: str, labels: Callable[[str], str]) -> bytes:
    return _save(card(report, title, labels), "PDF", resolution=150.0)


def _save(image: Image.Image, kind: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def card(report: dict[str, Any], title: str, labels: Callable[[str], str]) -> Image.Image:
    """A 1080-wide card: title, six headline figures, the viewers curve with sales, the funnel, then (when the
    stream had them) the best-selling products and the run-of-show table; it grows taller to fit them."""
    products = report.get("products", [])[:CARD_PRODUCTS]
    steps = report.get("run_of_show") or []
    tables = _table_height(products) + _table_height(steps[:CARD_STEPS], more=len(steps) > CARD_STEPS)
    height = HEIGHT + tables + (60 if tables else 0)
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    s, cur = report["summary"], report.get("currency")
    draw.rectangle((0, 0, WIDTH, 12), fill=ACCENT)
    draw.text((60, 50), title[:28], font=font(54), fill=INK)
    draw.text(
        (60, 125), f"{labels('report.title')} · {(report.get('started_at') or '')[:10]}", font=font(30), fill=MUTED
    )
    figures = [
        ("metric.gmv", _money(s["gmv"], cur)),
        ("metric.uv", f"{s['uv']:,}"),
        ("metric.peak", f"{s['peak']:,}"),
        ("metric.conversion", _pct(s["conversion"])),
        ("metric.gpm", _money(s["gpm"], cur)),
        ("metric.avg_watch", f"{(s['avg_watch_seconds'] or 0) / 60:.1f} min"),
    ]
    for i, (key, value) in enumerate(figures):
        x, y = 60 + (i % 3) * 330, 200 + (i // 3) * 150
        draw.text((x, y), labels(key), font=font(28), fill=MUTED)
        draw.text((x, y + 40), value, font=font(46), fill=INK)
    _curve(draw, report["timeline"], (60, 530, WIDTH - 60, 860), labels)
    _funnel(draw, report["funnel"], (60, 920, WIDTH - 60, HEIGHT - 80), labels)
    y = HEIGHT - 40
    if products:
        rows = [(_name(p), f"{p['units']:,}", f"{p['buyers']:,}", _money(p["gmv"], cur)) for p in products]
        head = (labels("products.title"), labels("units"), labels("metric.buyers"), labels("metric.gmv"))
        y = _grid(draw, y, head, rows)
    if steps:
        rows = [(_step(x), _clock(x["planned_at"]), _clock(x["actual_at"]), _delta(x)) for x in steps[:CARD_STEPS]]
        head = (labels("show.short"), labels("show.planned"), labels("show.actual"), labels("show.delta"))
        y = _grid(draw, y, head, rows)
        if len(steps) > CARD_STEPS:
            draw.text((60, y), f"+{len(steps) - CARD_STEPS}", font=font(26), fill=MUTED)
    draw.text((60, height - 60), labels("report.footer"), font=font(24), fill=MUTED)
    return image


def _table_height(rows: list[Any], more: bool = False) -> int:
    return 0 if not rows else 40 + ROW * (len(rows) + 1 + int(more))


COLUMNS = (60, 560, 720, 880)  # the first column is wide (product or step titles), then three figures


def _grid(draw: ImageDraw.ImageDraw, y: int, head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> int:
    """A small table: a heading row in grey, then the rows; returns the y below it."""
    y += 40
    for x, text in zip(COLUMNS, head, strict=True):
        draw.text((x, y), text, font=font(26), fill=MUTED)
    draw.line((60, y + ROW - 8, WIDTH - 60, y + ROW - 8), fill=(230, 230, 235), width=2)
    for row in rows:
        y += ROW
        for i, (x, text) in enumerate(zip(COLUMNS, row, strict=True)):
            draw.text((x, y), _fit(text, 22 if i == 0 else 9), font=font(28), fill=INK)
    return y + ROW


def _name(product: dict[str, Any]) -> str:
    return str(product["title"] or f"#{product['product_id'] or '?'}")


def _step(step: dict[str, Any]) -> str:
    return f"{step['position']}. {step['title']}"


def _fit(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _clock(value: str | None) -> str:
    """ "2026-11-29T12:05:00+00:00" → "12:05" (UTC, as every time in the report)."""
    return value[11:16] if value else "—"


def _delta(step: dict[str, Any]) -> str:
    seconds = step.get("delta_seconds")
    if seconds is None:
        return "—"
    sign = "+" if seconds >= 0 else "-"
    minutes, rest = divmod(abs(int(seconds)), 60)
    return f"{sign}{minutes}:{rest:02d}"


def _curve(
    draw: ImageDraw.ImageDraw,
    timeline: list[dict[str, Any]],
    box: tuple[int, int, int, int],
    labels: Callable[[str], str],
) -> None:
    left, top, right, bottom = box
    draw.text((left, top - 45), labels("report.viewers_and_sales"), font=font(30), fill=INK)
    draw.rectangle(box, outline=(230, 230, 235))
    if len(timeline) < 2:
        return
    most = max(1, max(p["viewers"] for p in timeline))
    most_gmv = max(1, max(p["gmv"] for p in timeline))
    step = (right - left) / (len(timeline) - 1)
    for i, p in enumerate(timeline):
        if p["gmv"]:
            x = left + i * step
            draw.rectangle((x - 2, bottom - (bottom - top) * 0.5 * p["gmv"] / most_gmv, x + 2, bottom), fill=LIGHT)
    points = [(left + i * step, bottom - (bottom - top - 10) * p["viewers"] / most) for i, p in enumerate(timeline)]
    draw.line(points, fill=ACCENT, width=5)


def _funnel(
    draw: ImageDraw.ImageDraw, steps: list[dict[str, Any]], box: tuple[int, int, int, int], labels: Callable[[str], str]
) -> None:
    left, top, right, bottom = box
    top_count = max(1, steps[0]["viewers"])
    row = (bottom - top) / len(steps)
    for i, step in enumerate(steps):
        y = top + i * row
        width = (right - left - 300 - 240) * step["viewers"] / top_count  # room for the figures
        draw.rectangle(
            (left + 300, y + 8, left + 300 + max(width, 2), y + row - 8), fill=ACCENT if i == len(steps) - 1 else LIGHT
        )
        draw.text((left, y + 14), labels(f"funnel.{step['step']}"), font=font(30), fill=INK)
        draw.text(
            (left + 310 + max(width, 2), y + 14),
            f"{step['viewers']:,}  {_pct(step['of_uv'])}",
            font=font(28),
            fill=MUTED,
        )
