// The room's video: hls.js tuned for low delay, or native HLS on Safari, and the states a viewer sees:
// "starting" (starting soon), "live", "reconnecting", "ended" (with a link to the replay).
// The stage carries data-stream-url when the room is on air; bus events (room.live / room.reconnecting /
// room.ended, forwarded by the real-time module as "knowcast:event") and a slow status poll keep it current.
import Hls from "hls.js";

const POLL_MS = 5000;
const STALL_MS = 4000;
const ENDED_GRACE_MS = 8000;

export function attachStream(video, url, { live = true } = {}) {
  // hls.js wherever Media Source Extensions exist (our low-latency tuning applies); native HLS otherwise
  // (iPhone Safari). Recent Chromium also plays HLS natively, but without this tuning.
  if (!Hls.isSupported()) {
    if (video.canPlayType("application/vnd.apple.mpegurl")) video.src = url;
    return null;
  }
  const tuning = live
    ? { liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 5, maxLiveSyncPlaybackRate: 1.2, backBufferLength: 30 }
    : { backBufferLength: 90 };
  const hls = new Hls({ lowLatencyMode: true, enableWorker: true, ...tuning });
  hls.loadSource(url);
  hls.attachMedia(video);
  return hls;
}

class Player {
  constructor(stage) {
    this.stage = stage;
    this.video = stage.querySelector("video");
    this.roomId = stage.dataset.roomId;
    this.hls = null;
    this.url = null;
    this.stallTimer = null;
    this.video.addEventListener("playing", () => this.onPlaying());
    this.video.addEventListener("waiting", () => this.onStall());
    this.video.addEventListener("ended", () => this.show("ended"));
    const unmute = stage.querySelector("[data-unmute]");
    if (unmute) {
      unmute.addEventListener("click", () => {
        this.video.muted = false;
        unmute.hidden = true;
      });
    }
  }

  get state() {
    return this.stage.dataset.player;
  }

  show(state) {
    this.stage.dataset.player = state;
    const unmute = this.stage.querySelector("[data-unmute]");
    if (unmute) unmute.hidden = state !== "live" || !this.video.muted;
  }

  play(url) {
    if (!url || url === this.url) return;
    this.stop();
    this.url = url;
    this.hls = attachStream(this.video, url);
    if (this.hls) {
      this.hls.on(Hls.Events.ERROR, (_event, data) => this.onError(data));
    }
    this.video.play().catch(() => {}); // muted autoplay; a refusal leaves the poster and the tap-for-sound button
  }

  stop() {
    if (this.hls) this.hls.destroy();
    this.hls = null;
    this.url = null;
  }

  // The program date-time (HLS EXT-X-PROGRAM-DATE-TIME) of the frame on screen: hls.js's playingDate, or
  // native HLS's start date + position (Safari). null before the first frame, or when the stream has none.
  programDate() {
    if (this.hls) return this.hls.playingDate || null;
    const start = this.url && typeof this.video.getStartDate === "function" ? this.video.getStartDate() : null;
    if (!start || Number.isNaN(start.getTime()) || start.getTime() <= 0) return null;
    return new Date(start.getTime() + this.video.currentTime * 1000);
  }

  // A stream is attached and not over: a program date is coming (what the shop waits for before a pin)
  get streaming() {
    return Boolean(this.url) && this.state !== "ended";
  }

  onPlaying() {
    clearTimeout(this.stallTimer);
    if (this.state !== "ended") this.show("live");
  }

  onStall() {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      if (this.state === "live") this.show("reconnecting");
    }, STALL_MS);
  }

  onError(data) {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.hls) {
      this.hls.recoverMediaError();
      return;
    }
    const url = this.url;
    this.stop();
    if (this.state !== "ended") this.show("reconnecting");
    setTimeout(() => {
      if (!this.url && this.state !== "ended") this.play(url);
    }, 2000);
  }

  /** @param {{ name?: string }} event */
  onEvent({ name }) {
    if (name === "room.live") this.refresh();
    else if (name === "room.reconnecting") this.show("reconnecting");
    else if (name === "room.ended") this.ending();
  }

  ending() {
    // The overlay with the replay link shows at once; viewers are a few seconds behind the host, so the
    // last seconds keep playing under it before the video stops.
    const playing = this.state === "live" && !this.video.paused;
    this.show("ended");
    this.refresh();
    if (playing) setTimeout(() => this.stop(), ENDED_GRACE_MS);
    else this.stop();
  }

  async refresh() {
    let status;
    try {
      const response = await fetch(`/api/v1/media/rooms/${this.roomId}/status`, { credentials: "same-origin" });
      if (!response.ok) return;
      status = await response.json();
    } catch {
      return; // offline for a moment: the next poll tries again
    }
    this.apply(status);
  }

  apply(status) {
    const replay = this.stage.querySelector("[data-replay-link]");
    if (replay && status.replay_url) {
      replay.href = status.replay_url;
      replay.hidden = false;
    }
    if (status.state === "ended") {
      if (this.state !== "ended") this.ending();
      return;
    }
    if (status.stream_url) {
      this.stage.dataset.streamUrl = status.stream_url;
      if (!this.url) this.play(status.stream_url);
      if (status.state === "reconnecting") this.show("reconnecting");
    }
  }

  start() {
    if (this.stage.dataset.streamUrl) this.play(this.stage.dataset.streamUrl);
    document.addEventListener("knowcast:event", (event) => this.onEvent(event.detail || {}));
    setInterval(() => {
      if (this.state !== "ended" && !document.hidden) this.refresh();
    }, POLL_MS);
  }
}

export function startPlayer(stage) {
  if (!stage.querySelector("video")) return null;
  const player = new Player(stage);
  stage.knowcastPlayer = player; // for the latency benchmark and for debugging from the console
  window.knowcast = window.knowcast || {};
  window.knowcast.player = { programDate: () => player.programDate(), streaming: () => player.streaming };
  player.start();
  return player;
}
