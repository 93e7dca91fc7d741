"""A client of Janus's HTTP API (the REST transport) and the signed tokens that let a caller in.

Janus's own protocol over HTTP: ``POST {url}`` creates a session, ``POST {url}/{session}`` attaches a plugin
handle, ``POST {url}/{session}/{handle}`` sends it a message (with or without a JSEP) or a trickle candidate,
and ``GET {url}/{session}`` long-polls the session's events. A plugin answers a synchronous request at once
(``success``); an asynchronous one (join, publish, configure) gets an ``ack`` and its answer later as an event
with the same transaction, which ``JanusSession`` routes back to the waiting request.

Signed tokens (janus.jcfg ``token_auth = true`` and ``token_auth_secret``): ``expiry,realm,desc...:signature``
with the signature base64(HMAC-SHA1(secret, "expiry,realm,desc...")). The core's realm is ``janus`` and its
descriptors the plugins the token may use; a videoroom created with ``signed_tokens`` also wants, in its join
request, a token of the realm ``janus.plugin.videoroom`` naming ``room=<id>`` (src/auth.c and
plugins/janus_videoroom.c of Janus 1.1).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from knowcast.errors import ServiceUnavailable
from knowcast.media.errors import MediaCode

log = logging.getLogger(__name__)
VIDEOROOM = "janus.plugin.videoroom"
REQUEST_TIMEOUT = 10.0  # seconds for a request Janus answers at once
ANSWER_TIMEOUT = 20.0  # seconds for an asynchronous plugin answer (it negotiates a peer connection)
POLL_SECONDS = 30  # Janus holds a long poll this long when it has no event
KEEPALIVE_SECONDS = 25.0  # below janus.jcfg's session_timeout (60 s by default)


class JanusUnreachable(ServiceUnavailable):
    """Janus did not answer (down, wrong URL, timed out)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"the Janus gateway did not answer: {message}", code=MediaCode.MEDIA_JANUS_UNREACHABLE)


class JanusRefused(ServiceUnavailable):
    """Janus or its plugin answered with an error (a wrong token, no such room...); ``janus_code`` is Janus's."""

    def __init__(self, janus_code: int, reason: str) -> None:
        super().__init__(f"the Janus gateway refused: {reason} ({janus_code})", code=MediaCode.MEDIA_JANUS_REFUSED)
        self.janus_code = janus_code
        self.reason = reason


# ---- signed tokens -----------------------------------------------------------------------------------------------


def sign_token(secret: str, realm: str, descriptors: list[str], ttl_seconds: float, now: float | None = None) -> str:
    """A token Janus accepts until ``now + ttl_seconds`` for ``realm`` and ``descriptors``."""
    expiry = int((time.time() if now is None else now) + ttl_seconds)
    data = ",".join([str(expiry), realm, *descriptors])
    signature = hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()
    return f"{data}:{base64.b64encode(signature).decode()}"


def core_token(secret: str, ttl_seconds: float) -> str:
    """Lets its holder make Janus sessions and use the videoroom plugin (only)."""
    return sign_token(secret, "janus", [VIDEOROOM], ttl_seconds)


def room_token(secret: str, janus_room: int, ttl_seconds: float) -> str:
    """Lets its holder join one videoroom created with ``signed_tokens``."""
    return sign_token(secret, VIDEOROOM, [f"room={janus_room}"], ttl_seconds)


def token_valid(secret: str, token: str, realm: str, descriptor: str, now: float | None = None) -> bool:
    """What Janus checks, for our own tests and logs: signature, expiry, realm and one descriptor."""
    data, _, signature = token.partition(":")
    parts = data.split(",")
    if len(parts) < 3 or not parts[0].isdigit() or parts[1] != realm or descriptor not in parts[2:]:
        return False
    if int(parts[0]) < (time.time() if now is None else now):
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()).decode()
    return hmac.compare_digest(expected, signature)


# ---- the HTTP API ------------------------------------------------------------------------------------------------


def _transaction() -> str:
    return secrets.token_hex(8)


def _check(reply: dict[str, Any]) -> dict[str, Any]:
    """Raise JanusRefused for a core error or a plugin's ``error_code``; return the reply."""
    if reply.get("janus") == "error":
        error = reply.get("error", {})
        raise JanusRefused(int(error.get("code", 0)), str(error.get("reason", "error")))
    data = reply.get("plugindata", {}).get("data", {})
    if "error_code" in data:
        raise JanusRefused(int(data["error_code"]), str(data.get("error", "plugin error")))
    return reply


class JanusClient:
    """Janus's HTTP API at ``url``; every request carries a fresh core token from ``token``."""

    def __init__(self, url: str, token: Callable[[], str], http: httpx.AsyncClient | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(REQUEST_TIMEOUT, read=POLL_SECONDS + 10))

    async def close(self) -> None:
        await self.http.aclose()

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": body.get("transaction") or _transaction(), "token": self.token()}
        try:
            response = await self.http.post(self.url + path, json=body)
            reply: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusUnreachable(f"{type(exc).__name__} {exc}".strip()) from exc
        return _check(reply)

    async def poll(self, session_id: int, maxev: int = 10) -> list[dict[str, Any]]:
        """The session's next events (at most ``maxev``), waiting up to POLL_SECONDS for one; [] when none came."""
        params = {"maxev": str(maxev), "token": self.token(), "rid": str(time.monotonic_ns())}
        try:
            response = await self.http.get(f"{self.url}/{session_id}", params=params)
            reply = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusUnreachable(f"{type(exc).__name__} {exc}".strip()) from exc
        events = reply if isinstance(reply, list) else [reply]
        if events and events[0].get("janus") == "error":
            _check(events[0])
        return [event for event in events if event.get("janus") != "keepalive"]

    async def info(self) -> dict[str, Any]:
        try:
            response = await self.http.get(f"{self.url}/info")
            reply: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusUnreachable(f"{type(exc).__name__} {exc}".strip()) from exc
        return reply

    async def session(self) -> JanusSession:
        reply = await self.post("", {"janus": "create"})
        session = JanusSession(self, int(reply["data"]["id"]))
        session.start()
        return session


@dataclass
class Answer:
    """A plugin's answer: its ``data`` and, for a negotiation, the JSEP (an SDP offer or answer)."""

    data: dict[str, Any]
    jsep: dict[str, Any] | None = None


class JanusSession:
    """One Janus session: long-polled for events and kept alive for as long as it is open."""

    def __init__(self, client: JanusClient, session_id: int) -> None:
        self.client = client
        self.id = session_id
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # what no request waits for (hangup...)
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False

    def start(self) -> None:
        self.tasks = [asyncio.ensure_future(self._listen()), asyncio.ensure_future(self._keep_alive())]

    async def attach(self, plugin: str = VIDEOROOM) -> JanusHandle:
        reply = await self.client.post(f"/{self.id}", {"janus": "attach", "plugin": plugin})
        return JanusHandle(self, int(reply["data"]["id"]))

    async def request(self, handle_id: int, body: dict[str, Any]) -> Answer:
        """Send ``body`` (a message or trickle) to a handle; an ``ack`` waits for the event that answers it."""
        transaction = _transaction()
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[transaction] = waiter
        try:
            reply = await self.client.post(f"/{self.id}/{handle_id}", {**body, "transaction": transaction})
            if reply.get("janus") == "ack" and body.get("janus") == "message":
                reply = _check(await asyncio.wait_for(waiter, ANSWER_TIMEOUT))
        except TimeoutError as exc:
            raise JanusUnreachable("no answer to a plugin request") from exc
        finally:
            self.pending.pop(transaction, None)
        return Answer(reply.get("plugindata", {}).get("data", {}), reply.get("jsep"))

    async def _listen(self) -> None:
        while not self.closed:
            try:
                events = await self.client.poll(self.id)
            except (JanusUnreachable, JanusRefused) as exc:
                log.warning("janus session lost", extra={"session": self.id, "error": str(exc)})
                self.closed = True
                self.events.put_nowait({"janus": "lost", "reason": str(exc)})
                return
            for event in events:
                waiter = self.pending.get(str(event.get("transaction", "")))
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)
                else:
                    self.events.put_nowait(event)

    async def _keep_alive(self) -> None:
        while not self.closed:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            with contextlib.suppress(JanusUnreachable, JanusRefused):
                await self.client.post(f"/{self.id}", {"janus": "keepalive"})

    async def destroy(self) -> None:
        """End the session (its handles and their peer connections with it); quiet when Janus is gone."""
        if self.closed:
            return
        self.closed = True
        for task in self.tasks:
            task.cancel()
        with contextlib.suppress(JanusUnreachable, JanusRefused):
            await self.client.post(f"/{self.id}", {"janus": "destroy"})


@dataclass
class JanusHandle:
    """A plugin handle in a session."""

    session: JanusSession
    id: int

    async def message(self, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> Answer:
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        return await self.session.request(self.id, request)

    async def trickle(self, candidate: dict[str, Any] | None) -> None:
        """One ICE candidate, or None: gathering is complete."""
        await self.session.request(self.id, {"janus": "trickle", "candidate": candidate or {"completed": True}})

    async def detach(self) -> None:
        with contextlib.suppress(JanusUnreachable, JanusRefused):
            await self.session.client.post(f"/{self.session.id}/{self.id}", {"janus": "detach"})
