"""The program picture and sound while guests are on stage: layouts, pasting pictures, mixing sound.

Pure functions on PyAV frames and numpy arrays, called from the host's WHIP encoder thread. The composed
picture keeps the host's size, so the encoder, ffmpeg and the HLS program go on unchanged when a guest joins or
leaves. Pictures are pasted as YUV 4:2:0 planes (no RGB round trip); each guest is scaled by swscale to its cell.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

BLACK = (16, 128, 128)  # Y, U, V of black (video range)


class Layout(enum.StrEnum):
    SIDE_BY_SIDE = "side_by_side"
    PIP = "pip"


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def cells(layout: Layout, count: int, width: int, height: int) -> list[Rect]:
    """Where each of ``count`` pictures goes (the host first) on a ``width``×``height`` program."""
    if count <= 1:
        return [Rect(0, 0, width, height)]
    if layout is Layout.PIP:
        w, h, margin = _even(width / 4), _even(height / 4), _even(width / 40)
        insets = [Rect(width - w - margin, height - (h + margin) * (i + 1), w, h) for i in range(count - 1)]
        return [Rect(0, 0, width, height), *insets]
    columns, rows = (count, 1) if count <= 2 else (2, 2)
    w, h = _even(width / columns), _even(height / rows)
    return [Rect((i % columns) * w, (i // columns) * h, w, h) for i in range(count)]


def fit(frame_w: int, frame_h: int, cell: Rect) -> Rect:
    """The largest rectangle of the frame's shape inside ``cell``, centred (black bars around it)."""
    scale = min(cell.w / frame_w, cell.h / frame_h)
    w, h = min(_even(frame_w * scale), cell.w), min(_even(frame_h * scale), cell.h)
    return Rect(cell.x + _even((cell.w - w) / 2) if cell.w > w else cell.x, cell.y + (cell.h - h) // 4 * 2, w, h)


def _planes(frame: VideoFrame) -> list[np.ndarray]:
    out = []
    for index, plane in enumerate(frame.planes):
        w, h = (frame.width, frame.height) if index == 0 else (frame.width // 2, frame.height // 2)
        out.append(np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[:h, :w])
    return out


def compose(layout: Layout, pictures: list[VideoFrame], width: int, height: int) -> VideoFrame:
    """One ``width``×``height`` yuv420p picture of ``pictures`` (the host first) laid out by ``layout``."""
    canvas = [np.full((height, width), BLACK[0], np.uint8)]
    canvas += [np.full((height // 2, width // 2), value, np.uint8) for value in BLACK[1:]]
    for picture, cell in zip(pictures, cells(layout, len(pictures), width, height), strict=False):
        if cell.w != width:  # an inset or a column: its own black background, then the picture fitted in it
            _fill(canvas, cell)
        box = fit(picture.width, picture.height, cell)
        scaled = picture.reformat(width=box.w, height=box.h, format="yuv420p")
        for index, plane in enumerate(_planes(scaled)):
            d = 1 if index == 0 else 2
            canvas[index][box.y // d : box.y // d + plane.shape[0], box.x // d : box.x // d + plane.shape[1]] = plane
    packed = np.concatenate([plane.ravel() for plane in canvas]).reshape(height * 3 // 2, width)
    return VideoFrame.from_ndarray(packed, format="yuv420p")


def _fill(canvas: list[np.ndarray], cell: Rect) -> None:
    for index, value in enumerate(BLACK):
        d = 1 if index == 0 else 2
        canvas[index][cell.y // d : (cell.y + cell.h) // d, cell.x // d : (cell.x + cell.w) // d] = value


# ---- sound ---------------------------------------------------------------------------------------------------


def mix(host: AudioFrame, others: list[np.ndarray]) -> AudioFrame:
    """The host's frame (s16 interleaved stereo) with each of ``others`` (the same layout, at most as long)
    added in; clipped to 16 bits. The result carries the host frame's rate and sample count."""
    base = host.to_ndarray().reshape(-1).astype(np.int32)
    for samples in others:
        n = min(len(samples), len(base))
        base[:n] += samples[:n]
    out = AudioFrame.from_ndarray(
        np.clip(base, -32768, 32767).astype(np.int16).reshape(1, -1), format="s16", layout="stereo"
    )
    out.sample_rate = host.sample_rate
    return out


def rms(samples: np.ndarray) -> float:
    """Root mean square of 16-bit samples (0 for silence, about 2100 for a tone of amplitude 3000)."""
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float64))))) if len(samples) else 0.0
