"""Fitting text into a box: wrapping on allowed breaks and shortening with an ellipsis, never inside a
user-perceived character (a grapheme cluster: a letter with its accents, an emoji with its modifiers and
joiners, a flag).

Breaks are allowed at spaces and around wide (CJK) characters; a Latin word is kept whole unless it alone is
wider than the line. Closing punctuation stays with what precedes it and opening punctuation with what
follows, so no line starts with "，" or ends with "《".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

ELLIPSIS = "…"
ZWJ = "\u200d"
CLOSING = set("，。、！？；：）」』》】〕〉”’…,.!?;:)]}%")
OPENING = set("（「『《【〔〈“‘([{")
Measure = Callable[[str], float]


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _extends(cluster: str, ch: str) -> bool:
    """Whether ``ch`` belongs to the grapheme cluster ``cluster`` (a compact subset of UAX #29)."""
    code = ord(ch)
    if cluster.endswith(ZWJ) or ch == ZWJ:
        return True
    if unicodedata.category(ch) in ("Mn", "Me", "Mc"):
        return True
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or 0xE0020 <= code <= 0xE007F:
        return True  # variation selectors, emoji tag sequences
    if 0x1F3FB <= code <= 0x1F3FF:
        return True  # skin-tone modifiers
    if 0x1160 <= code <= 0x11FF:
        return True  # Hangul vowel and final jamo
    if _regional(ch) and len(cluster) == 1 and _regional(cluster):
        return True  # a flag is a pair of regional indicators
    return cluster == "\r" and ch == "\n"


def graphemes(text: str) -> list[str]:
    clusters: list[str] = []
    for ch in text:
        if clusters and _extends(clusters[-1], ch):
            clusters[-1] += ch
        else:
            clusters.append(ch)
    return clusters


def _wide(cluster: str) -> bool:
    return unicodedata.east_asian_width(cluster[0]) in ("W", "F")


def units(text: str) -> list[str]:
    """Pieces between which a line may break: words, single wide clusters, spaces; punctuation attached."""
    out: list[str] = []
    word = ""
    for cluster in graphemes(" ".join(text.split())):
        if cluster == " " or _wide(cluster):
            if word:
                out.append(word)
                word = ""
            out.append(cluster)
        else:
            word += cluster
    if word:
        out.append(word)
    return _glue(out)


def _glue(pieces: list[str]) -> list[str]:
    glued: list[str] = []
    for piece in pieces:
        if (glued and piece in CLOSING and glued[-1] != " ") or (glued and glued[-1] in OPENING):
            glued[-1] += piece
        else:
            glued.append(piece)
    return glued


def wrap(text: str, measure: Measure, width: float) -> list[str]:
    """Every line, none wider than ``width`` (unless one grapheme alone is)."""
    lines: list[str] = []
    line = ""
    for unit in units(text):
        if measure(line + unit) <= width:
            line += unit
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = "" if unit == " " else unit
        while measure(line) > width and len(graphemes(line)) > 1:  # a word wider than the line
            head = _longest_prefix(graphemes(line), measure, width)
            lines.append(head)
            line = line[len(head) :]
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _longest_prefix(clusters: list[str], measure: Measure, width: float, suffix: str = "") -> str:
    text = ""
    for cluster in clusters:
        if measure(text + cluster + suffix) > width and text:
            break
        text += cluster
    return text


def shorten(text: str, measure: Measure, width: float) -> str:
    """``text`` if it fits, else its longest grapheme-whole prefix followed by "…" that fits."""
    if measure(text) <= width:
        return text
    clusters = graphemes(text.rstrip())
    head = ""
    for cluster in clusters:
        if measure(head + cluster + ELLIPSIS) > width:
            break
        head += cluster
    return head.rstrip() + ELLIPSIS


def fit(text: str, measure: Measure, width: float, max_lines: int) -> list[str]:
    """Wrapped into at most ``max_lines`` lines; the last one shortened with "…" when text is left over."""
    lines = wrap(text, measure, width)
    if len(lines) <= max_lines:
        return lines
    kept = lines[: max_lines - 1]
    rest = f"{lines[max_lines - 1]} {lines[max_lines]}"  # wider than a line, so it gets its "…"
    return [*kept, shorten(rest, measure, width)]
