"""Browser events in: the visitor id is computed here (never sent by the browser), and anything forged or
impossible is dropped and counted with a reason, never counted as a view or a sale.

Refused: kinds a browser may not send (orders, payments: only the server knows those), unknown rooms,
timestamps from the future or too far in the past, and impossible sequences (a heartbeat for a view that
never started or already ended, a view that changes room or visitor, heartbeats faster than a page sends).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from knowcast.analytics import models as m
from knowcast.analytics import records as r
from knowcast.analytics.channels import channel_of, clean
from knowcast.analytics.experiments import Running, assign
from knowcast.analytics.records import Record
from knowcast.analytics.runtime import AnalyticsRuntime
from knowcast.analytics.schemas import BrowserEvent, IntakeResult
from knowcast.db.types import utcnow

FUTURE_SLACK = timedelta(seconds=60)
STALE_AFTER = timedelta(hours=1)
MIN_BEAT_GAP = timedelta(seconds=5)
TRACKS_KEPT = 200_000
TRACK_IDLE = timedelta(minutes=30)


@dataclass(slots=True)
class Track:
    """A view as the intake knows it, to judge the next event of the same view."""

    room_id: int
    visitor: str
    channel: str
    started: datetime
    last_beat: datetime
    ended: bool = False


@dataclass(frozen=True, slots=True)
class Visit:
    """Who sent a request: computed server-side from the session, consent, address and user agent."""

    visitor: str
    user_key: str | None
    device: str
    own_host: str
    previous: str | None = None  # the pseudonym under yesterday's salt: a view begun before midnight stays theirs

    def owns(self, track: Track) -> bool:
        return track.visitor in (self.visitor, self.previous)


class Intake:
    def __init__(self, runtime: AnalyticsRuntime) -> None:
        self.runtime = runtime
        self.tracks: OrderedDict[str, Track] = OrderedDict()
        self.running = Running()

    async def variants(self, room_id: int, visitor: str) -> dict[str, str] | None:
        """The visitor's variant in each running experiment of the room's host (a keyed hash: no storage)."""
        info = self.runtime.room_info_cached(room_id)
        if info is None:
            return None
        running = self.running.cached(info.host_id)
        if running is None:  # a session only when the host's experiments must be read
            async with self.runtime.ctx.db.session() as session:
                running = await self.running.of_host(session, info.host_id)
        secret = self.runtime.settings.secret_key
        chosen = {x.key: assign(secret, x, visitor)["key"] for x in running if x.room_id in (None, room_id)}
        return chosen or None

    async def accept(self, visit: Visit, events: list[BrowserEvent]) -> IntakeResult:
        reasons: Counter[str] = Counter()
        variants: dict[int, dict[str, str] | None] = {}
        for event in events:
            reason = await self._check(event, visit)
            if reason is None:
                if event.room_id not in variants:
                    variants[event.room_id] = await self.variants(event.room_id, visit.visitor)
                self._take(event, visit, variants[event.room_id])
            else:
                reasons[reason] += 1
                self.runtime.reject(event.room_id if reason != "room.unknown" else 0, reason)
        rejected = sum(reasons.values())
        return IntakeResult(accepted=len(events) - rejected, rejected=rejected, reasons=dict(reasons))

    async def _check(self, event: BrowserEvent, visit: Visit) -> str | None:
        if event.kind not in r.BROWSER_KINDS:
            return "kind.forbidden"
        if await self.runtime.room_info(event.room_id) is None:
            return "room.unknown"
        now = utcnow()
        if event.at is not None:
            sent = datetime.fromtimestamp(event.at / 1000, now.tzinfo)
            if sent > now + FUTURE_SLACK:
                return "time.future"
            if sent < now - STALE_AFTER:
                return "time.stale"
        if event.kind in (r.IMPRESSION, r.CLICK) and event.product_id is None:
            return "product.missing"
        if event.kind != r.VIEW_START and event.view_id not in self.tracks:
            await self._recall(event.view_id)
        return self._sequence(event, visit, now)

    async def _recall(self, view_id: str) -> None:
        """A view this process has not seen: another worker (or this one before a restart) may have started
        it. Its stored session, if any, becomes the track."""
        async with self.runtime.ctx.db.session() as session:
            view = await session.get(m.AnalyticsView, view_id)
        if view is not None:
            track = Track(view.room_id, view.visitor, view.channel or "", view.started_at, view.last_beat_at)
            track.ended = view.ended_at is not None
            self.tracks[view_id] = track

    def _sequence(self, event: BrowserEvent, visit: Visit, now: datetime) -> str | None:
        track = self.tracks.get(event.view_id)
        if event.kind == r.VIEW_START:
            return "sequence.duplicate_start" if track is not None else None
        if track is None:
            return "sequence.no_view"
        if track.room_id != event.room_id or not visit.owns(track):
            return "sequence.foreign_view"
        if track.ended:
            return "sequence.after_end"
        if event.kind == r.HEARTBEAT and now - track.last_beat < MIN_BEAT_GAP:
            return "sequence.too_fast"
        return None

    def _take(self, event: BrowserEvent, visit: Visit, variants: dict[str, str] | None) -> None:
        now = utcnow()
        track = self.tracks.get(event.view_id)
        if event.kind == r.VIEW_START or track is None:
            track = self._start(event, visit, now)
        rec = Record(
            kind=event.kind,
            room_id=event.room_id,
            at=now,
            visitor=track.visitor,  # a view keeps the visitor it started with, across the salt's midnight
            view_id=event.view_id,
            channel=track.channel,
            device=visit.device,
            product_id=event.product_id,
            user_key=visit.user_key if event.kind in r.VIEW_KINDS else None,
            variants=variants,
        )
        if event.kind == r.VIEW_START:
            rec.data = {
                k: v for k, v in (("medium", clean(event.utm_medium)), ("campaign", clean(event.utm_campaign))) if v
            }
        elif event.kind in (r.HEARTBEAT, r.VIEW_END):
            rec.watched = self._watched(event, track, now)
            track.last_beat = now
            track.ended = event.kind == r.VIEW_END
        elif event.kind == r.SHARE and event.target:
            rec.data = {"target": clean(event.target)}
        self.tracks.move_to_end(event.view_id)
        self.runtime.offer(rec)

    def _start(self, event: BrowserEvent, visit: Visit, now: datetime) -> Track:
        channel = channel_of(event.utm_source, event.ref, event.referrer, visit.own_host)
        track = self.tracks[event.view_id] = Track(event.room_id, visit.visitor, channel, now, now)
        self._forget(now)
        return track

    @staticmethod
    def _watched(event: BrowserEvent, track: Track, now: datetime) -> float:
        """Seconds this beat adds: what the page says, but never more than the time since the last beat (plus
        a little) nor more than one heartbeat interval can hold."""
        gap = (now - track.last_beat).total_seconds() + 2.0
        claimed = event.watched_ms / 1000 if event.watched_ms is not None else gap
        return max(0.0, min(claimed, gap, r.MAX_BEAT_SECONDS))

    def _forget(self, now: datetime) -> None:
        while self.tracks:
            track = next(iter(self.tracks.values()))
            if len(self.tracks) <= TRACKS_KEPT and track.last_beat > now - TRACK_IDLE:
                break
            self.tracks.popitem(last=False)
