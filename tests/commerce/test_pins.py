"""A pin carries the live stream's program time (the stream's own clock, read from the program date-times ffmpeg
writes into the room's playlist), so each viewer's page can show it when their video gets there. The page side
runs in a real browser against a real ffmpeg stream: tests/commerce/test_pin_browser.py."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from knowcast.bus import Event
from knowcast.commerce.program_clock import program_now
from knowcast.media.playlist import Variant, format_time
from knowcast.media.runtime import Media
from knowcast.media.storage import INDEX, MediaStore
from tests.commerce.conftest import Shop

SEGMENT = 2.0


def _write_stream(store: MediaStore, room_id: int, first: datetime, count: int, *, ended: bool = False) -> Path:
    """A playlist as ffmpeg writes it for a live room (program_date_time on every segment)."""
    store.write_variants(room_id, [Variant("src", 800_000)])
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:2", "#EXT-X-PLAYLIST-TYPE:EVENT"]
    for n in range(count):
        lines += [
            f"#EXTINF:{SEGMENT:.6f},",
            f"#EXT-X-PROGRAM-DATE-TIME:{format_time(first + timedelta(seconds=n * SEGMENT))}",
        ]
        lines.append(f"seg_{n:06d}.ts")
    if ended:
        lines.append("#EXT-X-ENDLIST")
    path = store.variant_dir(room_id, "src") / INDEX
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _touch(path: Path, at: datetime) -> None:
    os.utime(path, (at.timestamp(), at.timestamp()))


def test_the_program_clock_follows_the_stream_not_the_wall_clock(tmp_path: Path) -> None:
    store, now = MediaStore(tmp_path / "media"), datetime.now(UTC)
    behind = (now - timedelta(minutes=5)).replace(microsecond=0)  # an encoder whose clock runs five minutes behind ours
    path = _write_stream(store, 7, behind, count=10)
    _touch(path, now - timedelta(seconds=1.5))  # the newest segment closed 1.5 s ago
    # newest segment's start + its length = the playlist's write time on the stream's clock; + 1.5 s since
    found = program_now(store, 7, now)
    assert found is not None and abs(found - (behind + timedelta(seconds=10 * SEGMENT + 1.5))) < timedelta(
        milliseconds=5
    )

    _touch(path, now - timedelta(minutes=2))  # nothing written for two minutes: not live
    assert program_now(store, 7, now) is None
    _touch(path, now)
    _write_stream(store, 7, behind, count=10, ended=True)
    assert program_now(store, 7, now) is None  # the stream has ended
    assert program_now(store, 8, now) is None  # a room without video
    (store.variant_dir(7, "src") / INDEX).write_text("#EXTM3U\n#EXTINF:2.0,\nseg_000000.ts\n", encoding="utf-8")
    assert program_now(store, 7, now) is None  # no program date-times


async def test_a_pin_carries_the_streams_program_time(app: Any, shop: Shop, seen: list[Event]) -> None:
    product = await shop.shelved(title="理财课")
    store: MediaStore = app.state.ctx.runtime(Media).store
    behind = datetime.now(UTC) - timedelta(minutes=5)
    _touch(_write_stream(store, shop.room_id, behind, count=30), datetime.now(UTC))
    pinned = await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/pin", json={"product_id": product["id"]})
    assert pinned.status_code == 200, pinned.text
    (pin,) = [e for e in seen if e.name == "shelf.pinned"]
    event = pin.data
    at = datetime.fromisoformat(event["program_time"])
    expected = behind + timedelta(seconds=30 * SEGMENT)
    assert expected <= at < expected + timedelta(seconds=30)  # the stream's clock, minutes from ours
    assert event["product"]["id"] == product["id"] and pin.to_room
    assert datetime.fromisoformat(pinned.json()["pin_program_time"]) == at

    given = "2030-01-01T10:00:00+00:00"
    again = await shop.host.client.post(
        f"/api/v1/rooms/{shop.room_id}/pin", json={"product_id": product["id"], "program_time": given}
    )
    assert datetime.fromisoformat(again.json()["pin_program_time"]) == datetime.fromisoformat(given)
    shelf = (await shop.host.client.get(f"/api/v1/rooms/{shop.room_id}/commerce")).json()["shelf"]
    assert [e["pinned"] for e in shelf] == [True]


async def test_without_video_a_pin_carries_the_time_it_was_made(shop: Shop, seen: list[Event]) -> None:
    product = await shop.shelved()
    before = datetime.now(UTC)
    await shop.host.client.post(f"/api/v1/rooms/{shop.room_id}/pin", json={"product_id": product["id"]})
    (event,) = [e.data for e in seen if e.name == "shelf.pinned"]
    assert before <= datetime.fromisoformat(event["program_time"]) <= datetime.now(UTC)


async def test_bad_pins_are_refused_with_a_code(shop: Shop, make_user: Any) -> None:
    product = await shop.product()
    url = f"/api/v1/rooms/{shop.room_id}/pin"
    off_shelf = await shop.host.client.post(url, json={"product_id": product["id"]})
    assert (off_shelf.status_code, off_shelf.json()["error"]["code"]) == (404, "shelf.not_on_shelf")
    for body in ({"product_id": 0}, {"product_id": 2**40}, {"product_id": 1, "program_time": "2030-01-01T10:00:00"}):
        assert (await shop.host.client.post(url, json=body)).status_code == 422, body
    viewer = await make_user()
    assert (await viewer.client.post(url, json={"product_id": product["id"]})).status_code == 403
