"""Builds the video plane for an app: the store always, the plane and the RTMP gate as settings say."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from knowcast.context import AppContext
from knowcast.media.access import RoomFactsCache
from knowcast.media.demo import DemoStream
from knowcast.media.ffmpeg import ffmpeg_binary
from knowcast.media.janus_program import JanusProgram
from knowcast.media.janus_stage import JanusStage
from knowcast.media.rtmp_gate import RtmpGate
from knowcast.media.storage import MediaStore
from knowcast.media.supervisor import MediaPlane
from knowcast.media.timeline import TimelineRecorder
from knowcast.media.whep import WhepViewing
from knowcast.media.whip import WhipIngest
from knowcast.settings import Settings


@dataclass
class Media:
    settings: Settings
    store: MediaStore
    plane: MediaPlane
    timeline: TimelineRecorder
    gate: RtmpGate | None = None
    whip: WhipIngest | None = None
    whep: WhepViewing | None = None
    janus: JanusProgram | None = None  # scaled mode (KNOWCAST_JANUS_URL): viewers watch through Janus
    janus_stage: JanusStage | None = None  # scaled mode: the stage's participants watch each other through Janus
    facts: RoomFactsCache = field(default_factory=RoomFactsCache)

    @property
    def embedded(self) -> bool:
        return self.settings.ingest == "embedded"


def build_media(ctx: AppContext) -> Media:
    """Create the video plane and add its Components to ``ctx.components`` (ingest "embedded"/"external")."""
    settings = ctx.settings
    store = MediaStore.of_data_dir(settings.data_dir)
    plane = MediaPlane(ctx, store, ffmpeg_binary(settings.ffmpeg))
    media = Media(settings, store, plane, TimelineRecorder(store))
    ctx.provide(media)
    ctx.bus.subscribe("*", media.timeline.on_event)
    if settings.ingest in ("embedded", "external"):
        ctx.components.append(plane)
    if settings.ingest == "embedded":
        media.gate = RtmpGate(plane, settings.rtmp_host, settings.rtmp_port)
        ctx.components.append(media.gate)
        media.whip = WhipIngest(plane, settings)
        ctx.components.append(media.whip)
        media.whep = WhepViewing(plane, settings)
        ctx.components.append(media.whep)
        if settings.janus_url:
            media.janus = JanusProgram(plane, settings)
            ctx.components.append(media.janus)
            media.janus_stage = JanusStage(media.janus, media.whip.stages)
            ctx.components.append(media.janus_stage)
        if settings.demo_stream_room is not None:
            ctx.components.append(DemoStream(ctx, settings.demo_stream_room, plane.ffmpeg, media.gate))
    return media


def media_of(request: Request) -> Media:
    ctx: AppContext = request.app.state.ctx
    return ctx.runtime(Media)
