"""Property-based fuzzing of the live WebSocket protocol (#14 point 3).

A Hypothesis state machine drives several clients of one room on a real `knowcast serve` process: signed-in
chatters and an anonymous viewer send any sequence of valid frames (chat, like, heartbeat) and invalid ones
(not JSON, wrong types, unknown types, lone surrogates, deep nesting, binary, a second join). Invariants:

- no server error: no socket is closed with 1011 and no frame carries the ``internal`` code;
- every frame a client sends is answered as the protocol says: a chat frame by its line coming back or by
  exactly one error, an invalid frame by exactly one ``protocol.*`` error, likes and heartbeats by nothing;
- every accepted line reaches every viewer exactly once (all viewers hold the same lines, none twice);
- each viewer's sequence numbers never gap (each tick is its predecessor's seq + 1).

Clients keep under the flood limit (20 frames a second) and the bad-frame limit (10 per socket), which end a
socket on purpose (tests/realtime/test_bad_input.py covers those). The example count is bounded so that the
whole run stays well under a minute.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from knowcast import csrf
from tests.live_server import SECRET, LiveServer, create_user, start_server

PACE = 0.07  # seconds between two frames of one client: about 14 a second, under the flood limit of 20
MAX_BAD = 9  # a socket that sent more than 10 bad frames is closed on purpose
CHATTERS = 3
CIDS = count(1)

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda t: t.strip() != ""
)
BAD_FRAMES: st.SearchStrategy[str | bytes] = st.one_of(
    st.sampled_from(
        [
            "{not json",
            "[1, 2]",
            "null",
            '"text"',
            '{"type": 7}',
            '{"type": "teleport"}',
            '{"type": "chat"}',
            '{"type": "chat", "text": ["x"]}',
            '{"type": "chat", "text": "bad \\ud800"}',
            '{"type": "chat", "text": "ok", "cid": "\\udfff"}',
            '{"type": "like", "count": 0}',
            '{"type": "like", "count": true}',
            '{"type": "join", "v": 1}',
            "[" * 1000 + "]" * 1000,
            '{"a":' * 600 + "1" + "}" * 600,
        ]
    ),
    st.binary(min_size=1, max_size=64),
    st.integers(min_value=101, max_value=10**6).map(lambda n: json.dumps({"type": "like", "count": n})),
    st.text(max_size=60).filter(lambda t: not t.lstrip().startswith(("{", "["))),
)


@dataclass
class Client:
    name: str
    ws: ClientConnection
    user_id: int | None
    seq: int
    chats: int = 0  # chat frames sent: each must come back as a line or as one error
    bad: int = 0  # invalid frames sent: each must be answered by one protocol.* error
    errors: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # ids of the chat lines received, in order
    own: list[str] = field(default_factory=list)  # ids of this client's own lines that came back
    gaps: list[tuple[int, int]] = field(default_factory=list)
    closed: int | None = None
    last_sent: float = 0.0

    def send(self, frame: str | bytes) -> None:
        wait = self.last_sent + PACE - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.ws.send(frame)
        self.last_sent = time.monotonic()

    def pump(self, timeout: float = 0.0) -> None:
        """Read every frame that has arrived (waiting up to ``timeout`` for the first)."""
        while self.closed is None:
            try:
                raw = self.ws.recv(timeout=timeout)
            except TimeoutError:
                return
            except ConnectionClosed as closed:
                self.closed = closed.rcvd.code if closed.rcvd else 1006
                return
            timeout = 0.0
            self.take(json.loads(raw))

    def take(self, message: dict[str, Any]) -> None:
        if message.get("type") == "error":
            self.errors.append(message["code"])
        if message.get("type") != "tick":
            return
        if message["seq"] != self.seq + 1:
            self.gaps.append((self.seq, message["seq"]))
        self.seq = message["seq"]
        for line in message.get("chat", ()):
            self.lines.append(line["id"])
            if self.user_id is not None and line.get("user_id") == self.user_id and line.get("cid"):
                self.own.append(line["id"])

    @property
    def answered(self) -> bool:
        return len(self.errors) + len(self.own) >= self.chats + self.bad


def open_client(server: LiveServer, room_id: int, name: str, cookie: str | None) -> Client:
    headers = {"cookie": cookie} if cookie else {}
    ws = connect(f"ws://127.0.0.1:{server.port}/api/v1/rooms/{room_id}/live", additional_headers=headers)
    ws.send(json.dumps({"type": "join", "v": 1}))
    welcome = json.loads(ws.recv(timeout=10))
    assert welcome["type"] == "welcome", welcome
    return Client(name, ws, welcome["you"]["user_id"], welcome["seq"])


def signed_in(server: LiveServer, email: str, role: str = "viewer") -> tuple[str, dict[str, str]]:
    """A session for a new account: a host made by the CLI as an operator would, viewers by signing up."""
    if role != "viewer":
        create_user(server, email, role)
    with httpx.Client(base_url=server.url) as client:
        client.get("/")
        headers = {"x-csrf-token": csrf.token_for(SECRET, client.cookies["kc_csrf"])}
        body = {"email": email, "password": "correct horse battery"}
        if role == "viewer":
            answer = client.post(
                "/api/v1/auth/signup", json={**body, "display_name": email.split("@")[0]}, headers=headers
            )
        else:
            answer = client.post("/api/v1/auth/signin", json=body, headers=headers)
        answer.raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        return cookie, headers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("protocol-fuzz"), KNOWCAST_CHAT_BURST="6")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def world(server: LiveServer) -> dict[str, Any]:
    """A public room and the chatters' session cookies (accounts made once for every example)."""
    host_cookie, host_headers = signed_in(server, "fuzz-host@example.com", "host")
    room = httpx.post(
        server.url + "/api/v1/rooms",
        json={"title": "协议模糊测试", "scheduled_at": "2030-01-01T10:00:00+08:00"},
        headers={**host_headers, "cookie": host_cookie},
    )
    room.raise_for_status()
    cookies = [signed_in(server, f"fuzz-chatter{n}@example.com")[0] for n in range(CHATTERS)]
    return {"room_id": room.json()["id"], "cookies": cookies}


def test_the_live_protocol_holds_under_any_sequence_of_frames(server: LiveServer, world: dict[str, Any]) -> None:
    class LiveProtocol(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clients = [
                open_client(server, world["room_id"], f"chatter{n}", cookie)
                for n, cookie in enumerate(world["cookies"])
            ]
            self.clients.append(open_client(server, world["room_id"], "anonymous", None))

        def pump(self) -> None:
            for client in self.clients:
                client.pump()

        @rule(who=st.integers(0, CHATTERS), text=TEXT)
        def chat(self, who: int, text: str) -> None:
            client = self.clients[who]
            client.send(json.dumps({"type": "chat", "text": text, "cid": f"c{next(CIDS)}"}))
            client.chats += 1
            self.pump()

        @rule(who=st.integers(0, CHATTERS), frame=BAD_FRAMES)
        def bad_frame(self, who: int, frame: str | bytes) -> None:
            client = self.clients[who]
            if client.bad >= MAX_BAD:
                return
            client.send(frame)
            client.bad += 1
            self.pump()

        @rule(who=st.integers(0, CHATTERS), likes=st.integers(1, 100), heartbeat=st.booleans())
        def quiet_frame(self, who: int, likes: int, heartbeat: bool) -> None:
            frame = {"type": "heartbeat"} if heartbeat else {"type": "like", "count": likes}
            self.clients[who].send(json.dumps(frame))
            self.pump()

        @invariant()
        def no_server_error(self) -> None:
            for client in self.clients:
                assert client.closed is None, (client.name, client.closed, server.log()[-2000:])
                assert "internal" not in client.errors, (client.name, client.errors)
                assert not client.gaps, (client.name, client.gaps)

        def teardown(self) -> None:
            try:
                self.settle()
            finally:
                for client in self.clients:
                    client.ws.close()

        def settle(self) -> None:
            """Wait until every frame is answered and the last tick has reached everyone, then compare."""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                for client in self.clients:
                    client.pump(timeout=0.05)
                seqs = {client.seq for client in self.clients}
                if all(client.answered for client in self.clients) and len(seqs) == 1:
                    time.sleep(0.3)  # one more tick's worth: nothing may still be on its way
                    for client in self.clients:
                        client.pump()
                    if len({client.seq for client in self.clients}) == 1:
                        break
            self.no_server_error()
            for client in self.clients:
                expected = client.chats + client.bad
                assert len(client.errors) + len(client.own) == expected, (client.name, client.errors, client.own)
                protocol_errors = [code for code in client.errors if code.startswith("protocol.")]
                assert len(protocol_errors) == client.bad, (client.name, client.errors)
                assert len(client.lines) == len(set(client.lines)), (client.name, "a line arrived twice")
            reference = self.clients[0].lines
            for client in self.clients[1:]:
                assert client.lines == reference, (client.name, "viewers saw different lines")
            accepted = {line for client in self.clients for line in client.own}
            assert accepted <= set(reference)

    run_state_machine_as_test(
        LiveProtocol,
        settings=settings(
            max_examples=5,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_the_fuzzer_is_in_the_test_extras() -> None:
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    assert '"hypothesis' in pyproject.read_text()
