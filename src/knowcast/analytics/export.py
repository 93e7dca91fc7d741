"""The review report as a CSV file (sections one after another) and as a PNG card to share (Pillow).

The card uses a CJK font when the system has one (Noto Sans CJK, WenQuanYi), so Chinese titles render; else
Pillow's own font and English labels.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

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
    _table(w, "channels", report["channels"])
    change = (report.get("previous") or {}).get("change") or {}
    for name in ("terms", "shares"):
        for factor, value in (change.get(name) or {}).items():
            w.writerow(["apv_change", f"{name}.{factor}", _cell(value)])
    return out.getvalue()


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
    symbol = "¥" if (currency or "CNY") == "CNY" else f"{currency} "
    return f"{symbol}{(minor or 0) / 100:,.2f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def to_png(report: dict[str, Any], title: str, labels: Callable[[str], str]) -> bytes:
    """A 1080×1350 card: title, six headline figures, the viewers curve with sales, the funnel."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
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
    draw.text((60, HEIGHT - 60), labels("report.footer"), font=font(24), fill=MUTED)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


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
