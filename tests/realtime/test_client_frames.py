"""Reading client frames (realtime/client_frames.py) without a socket: unmasking, assembly and refusals."""

from __future__ import annotations

import os
import struct

import pytest
from websockets.speedups import apply_mask

from knowcast.realtime.client_frames import (
    BINARY,
    CLOSE,
    NO_STATUS,
    PING,
    TEXT,
    FrameReader,
    Violation,
    close_status,
    unmask_in_python,
)
from tests.realtime.harness import client_frame


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 4096, 70_001])
def test_the_python_unmasking_matches_the_c_one(size: int) -> None:
    payload, mask = os.urandom(size), os.urandom(4)
    assert unmask_in_python(payload, mask) == apply_mask(payload, mask)


def test_messages_come_out_whole_however_the_bytes_are_cut() -> None:
    data = (
        client_frame("直播".encode())
        + client_frame(b"ab", BINARY, fin=False)
        + client_frame(b"!", PING)
        + client_frame(b"cd", 0x0)
        + client_frame(b"x" * 300)
    )
    for cut in (1, 2, 7, 64, len(data)):
        reader = FrameReader(65_536)
        events = [event for at in range(0, len(data), cut) for event in reader.feed(data[at : at + cut])]
        assert events == [(TEXT, "直播"), (PING, b"!"), (BINARY, b"abcd"), (TEXT, "x" * 300)]
        assert reader.buffer == b"" and reader.parts == []


def test_a_message_over_the_limit_is_refused_from_its_header() -> None:
    reader = FrameReader(100)
    header_only = client_frame(b"x" * 101)[:8]
    with pytest.raises(Violation) as refused:
        list(reader.feed(header_only))
    assert refused.value.code == 1009


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"", (NO_STATUS, "")),
        (struct.pack("!H", 1000), (1000, "")),
        (struct.pack("!H", 4403) + "再见".encode(), (4403, "再见")),
    ],
)
def test_close_status(payload: bytes, status: tuple[int, str]) -> None:
    assert close_status(payload) == status
    assert list(FrameReader(10).feed(client_frame(payload, CLOSE))) == [(CLOSE, payload)]


@pytest.mark.parametrize(
    ("payload", "code"),
    [(b"\x03", 1002), (struct.pack("!H", 1005), 1002), (struct.pack("!H", 5000), 1002), (b"\x03\xe8\xff", 1007)],
)
def test_a_bad_close_frame_is_a_violation(payload: bytes, code: int) -> None:
    with pytest.raises(Violation) as refused:
        close_status(payload)
    assert refused.value.code == code
