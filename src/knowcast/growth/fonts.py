"""Finding a font that can draw Chinese for posters: the configured file (``poster_font``), else what
fontconfig knows for zh-CN (``fc-list :lang=zh-cn``), else well-known paths. In a font collection (.ttc) the
Simplified Chinese face is preferred. When nothing is found, Pillow's own font is used and the poster says so
(``Fonts.cjk`` is False): Latin text still renders, Chinese would not.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)
KNOWN_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
PROBE = "中文"
NOT_A_CHARACTER = "\U0010fffd"
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class FontChoice:
    path: str | None  # None: Pillow's built-in font
    index: int = 0

    @property
    def cjk(self) -> bool:
        return self.path is not None


def _fontconfig() -> list[str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        out = subprocess.run(  # noqa: S603  # fixed arguments, no shell
            [fc_list, ":lang=zh-cn", "file"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({line.split(":", 1)[0].strip() for line in out.splitlines() if line.strip()})
    sans = [f for f in files if "sans" in f.lower() and "bold" not in f.lower()]
    return sans + [f for f in files if f not in sans]


def _face_index(path: str) -> int:
    """The Simplified Chinese face of a collection (Noto's .ttc holds JP, KR, SC, TC, HK), else the first."""
    if not path.lower().endswith(".ttc"):
        return 0
    for index in range(12):
        try:
            name = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if " SC" in name or "SC " in name or "GB" in name:
            return index
    return 0


def _draws_chinese(path: str, index: int) -> bool:
    try:
        font = ImageFont.truetype(path, 24, index=index)
    except OSError:
        return False
    missing = bytes(font.getmask(NOT_A_CHARACTER))  # .notdef: the box a font draws for what it lacks
    return all(bytes(font.getmask(ch)) not in (b"", missing) for ch in PROBE)


@cache
def find(configured: str | None) -> FontChoice:
    candidates = [configured] if configured else []
    candidates += _fontconfig() + [p for p in KNOWN_PATHS if Path(p).exists()]
    for path in candidates:
        if path and Path(path).is_file():
            index = _face_index(path)
            if _draws_chinese(path, index):
                return FontChoice(path, index)
    log.warning("no CJK font found for posters: Chinese text will not render (apt-get install fonts-noto-cjk)")
    return FontChoice(None)


@cache
def load(choice: FontChoice, size: int) -> Font:
    if choice.path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(choice.path, size, index=choice.index)
