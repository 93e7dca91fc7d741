"""The stage's picture and sound: layouts, pasting YUV planes, mixing, on real PyAV frames."""

from __future__ import annotations

import numpy as np
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from knowcast.media.compose import Layout, Rect, cells, compose, fit, mix, rms

RED, BLUE, GREEN = (200, 0, 0), (0, 0, 200), (0, 200, 0)


def solid(rgb: tuple[int, int, int], width: int = 320, height: int = 240) -> VideoFrame:
    picture = np.zeros((height, width, 3), np.uint8)
    picture[:, :] = rgb
    return VideoFrame.from_ndarray(picture, format="rgb24")


def at(frame: VideoFrame, x: int, y: int) -> tuple[int, int, int]:
    r, g, b = frame.to_ndarray(format="rgb24")[y, x]
    return int(r), int(g), int(b)


def near(colour: tuple[int, int, int], want: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(colour, want, strict=True))


def test_side_by_side_puts_the_host_left_and_the_guest_right_at_the_host_size() -> None:
    out = compose(Layout.SIDE_BY_SIDE, [solid(RED), solid(BLUE, 640, 480)], 1280, 720)
    assert (out.width, out.height) == (1280, 720)
    assert near(at(out, 320, 360), RED) and near(at(out, 960, 360), BLUE)
    assert near(at(out, 320, 10), (0, 0, 0))  # 4:3 pictures in 640×720 cells: black above and below


def test_pip_keeps_the_host_full_and_insets_guests_bottom_right() -> None:
    out = compose(Layout.PIP, [solid(RED, 1280, 720), solid(BLUE), solid(GREEN)], 1280, 720)
    first, second = cells(Layout.PIP, 3, 1280, 720)[1:]
    assert near(at(out, 100, 100), RED)
    assert near(at(out, first.x + first.w // 2, first.y + first.h // 2), BLUE)
    assert near(at(out, second.x + second.w // 2, second.y + second.h // 2), GREEN)
    assert first.x + first.w < 1280 and first.y + first.h < 720 and second.y + second.h < first.y


def test_four_pictures_side_by_side_make_a_grid_and_every_cell_is_even() -> None:
    grid = cells(Layout.SIDE_BY_SIDE, 4, 1280, 720)
    assert grid == [Rect(0, 0, 640, 360), Rect(640, 0, 640, 360), Rect(0, 360, 640, 360), Rect(640, 360, 640, 360)]
    box = fit(333, 199, Rect(0, 0, 640, 360))
    assert box.w % 2 == box.h % 2 == box.x % 2 == box.y % 2 == 0 and box.w <= 640 and box.h <= 360


def test_mix_adds_sound_and_clips() -> None:
    host = AudioFrame.from_ndarray(np.full((1, 1920), 1000, np.int16), format="s16", layout="stereo")
    host.sample_rate = 48_000
    guest = np.full(1920, 32000, np.int16)
    out = mix(host, [guest[:1000]])
    samples = out.to_ndarray().reshape(-1)
    assert out.samples == 960 and out.sample_rate == 48_000
    assert samples[0] == 32767 and samples[1500] == 1000  # clipped where the guest was, the host alone after
    assert rms(np.zeros(10, np.int16)) == 0 and rms(np.array([], np.int16)) == 0
