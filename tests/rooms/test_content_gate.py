"""A ticket or members room's content is read only by those its live socket would admit (#14 point 4).

Anonymous callers and signed-in strangers get the same refusal as at the socket's handshake, for every read
of the room's content; the host reads everything; the shelf stays open, since it sells the way in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from knowcast.accounts.models import Role

WHEN = (datetime.now(UTC) + timedelta(days=1)).isoformat()


async def furnished_room(host: Any, access_mode: str) -> dict[str, int]:
    """A room with a question, a poll, a draw and a flash sale in it."""
    client = host.client
    room = (
        await client.post("/api/v1/rooms", json={"title": "付费课", "scheduled_at": WHEN, "access_mode": access_mode})
    ).json()
    base = f"/api/v1/rooms/{room['id']}"
    assert (await client.post(f"{base}/questions", json={"text": "只给会员看的问题"})).status_code == 201
    poll = await client.post(f"{base}/polls", json={"question": "下节课讲什么？", "options": ["基金", "股票"]})
    assert poll.status_code == 201, poll.text
    product = (await client.post("/api/v1/products", json={"kind": "item", "title": "讲义", "price": 990})).json()
    assert (await client.post(f"{base}/shelf", json={"product_id": product["id"]})).status_code == 201
    sale = await client.post(f"{base}/flash-sales", json={"product_id": product["id"], "price": 100, "stock": 3})
    assert sale.status_code == 201, sale.text
    draw = await client.post(
        f"{base}/draws",
        json={
            "title": "抽奖",
            "condition": "keyword",
            "keyword": "666",
            "prize_product_id": product["id"],
            "winners": 1,
        },
    )
    assert draw.status_code == 201, draw.text
    return {"room": room["id"], "sale": sale.json()["id"], "draw": draw.json()["id"]}


def content_reads(ids: dict[str, int]) -> list[str]:
    room = f"/api/v1/rooms/{ids['room']}"
    return [
        f"{room}/questions",
        f"{room}/polls/current",
        f"{room}/draws",
        f"{room}/guests",
        f"/api/v1/draws/{ids['draw']}",
        f"/api/v1/draws/{ids['draw']}/entrants",
        f"/api/v1/flash-sales/{ids['sale']}",
    ]


@pytest.mark.parametrize(
    ("access_mode", "code"), [("ticket", "room.ticket_required"), ("members", "room.members_only")]
)
async def test_strangers_read_none_of_a_closed_rooms_content(
    make_user: Any, client: Any, access_mode: str, code: str
) -> None:
    host = await make_user(Role.HOST)
    stranger = await make_user(Role.VIEWER)
    ids = await furnished_room(host, access_mode)
    for path in content_reads(ids):
        anonymous = await client.get(path)
        assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, code), path
        signed_in = await stranger.client.get(path)
        assert (signed_in.status_code, signed_in.json()["error"]["code"]) == (403, code), path
        assert "只给会员看的问题" not in anonymous.text + signed_in.text
    snapshot = (await stranger.client.get(f"/api/v1/rooms/{ids['room']}/commerce")).json()
    assert snapshot["sale"] is None and snapshot["draw"] is None and snapshot["drop"] is None
    assert [entry["product"]["title"] for entry in snapshot["shelf"]] == ["讲义"]  # the shelf still sells


async def test_the_host_and_a_public_rooms_visitors_read_it_all(make_user: Any, client: Any) -> None:
    host = await make_user(Role.HOST)
    closed = await furnished_room(host, "ticket")
    for path in content_reads(closed):
        answer = await host.client.get(path)
        expected = 409 if path.endswith("/entrants") else 200  # entrants are published once drawn
        assert answer.status_code == expected, (path, answer.text)
    assert (await host.client.get(f"/api/v1/rooms/{closed['room']}/questions")).json()[0]["text"] == "只给会员看的问题"
    assert (await host.client.get(f"/api/v1/rooms/{closed['room']}/commerce")).json()["sale"] is not None
    public = await furnished_room(host, "public")
    for path in content_reads(public):
        answer = await client.get(path)
        assert answer.status_code == (409 if path.endswith("/entrants") else 200), (path, answer.text)
