// The room's video: over WebRTC (WHEP) well under a second behind when the server has room for another
// WebRTC viewer, else hls.js tuned for low delay, or native HLS on Safari; and the states a viewer sees:
// "starting" (starting soon), "live", "reconnecting", "ended" (with a link to the replay).
// The stage carries data-stream-url (and data-webrtc-url, with data-webrtc-via "whep" or "janus": scaled mode,
// _janus.js) when the room is on air, and data-transport says
// what plays ("webrtc" or "hls"); bus events (room.live / room.reconnecting / room.ended, forwarded by the
// real-time module as "knowcast:event") keep it current, and a status poll covers what events cannot say (the
// first segments written, a socket that is down).
// hls.js (≈ 150 KB compressed, most of the room's code) is fetched only when the page plays HLS through it: a
// viewer on WebRTC, or on a phone without Media Source Extensions (native HLS), never downloads it, and a
// crowd opening a room asks the server for a fifth of the bytes.
import { onLive } from "./_live.js";
import { watchJanus } from "./_janus.js";
import { watch } from "./_webrtc.js";

const POLL_MS = 5000; // while nothing plays yet or the live socket is down
const SLOW_POLL_MS = 60000; // while playing with the live socket up: its events say what changes
const STALL_MS = 4000;
const ENDED_GRACE_MS = 8000;

/** @type {Promise<typeof import("hls.js").default> | null} */
let loading = null;

/** hls.js, loaded once on first use (its own chunk of the bundle). */
export function loadHls() {
  loading ||= import("hls.js").then((module) => module.default);
  return loading;
}

/** @param {HTMLVideoElement} video @param {string} url @returns {Promise<import("hls.js").default | null>} */
export async function attachStream(video, url, { live = true } = {}) {
  // hls.js wherever Media Source Extensions exist (our low-latency tuning applies); native HLS otherwise
  // (iPhone Safari). Recent Chromium also plays HLS natively, but without this tuning.
  const mediaSource = /** @type {any} */ (window).MediaSource || /** @type {any} */ (window).ManagedMediaSource;
  const Hls = mediaSource ? await loadHls() : null;
  if (!Hls || !Hls.isSupported()) {
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
    /** @type {{ close: () => void } | null} */
    this.webrtc = null;
    this.webrtcRefused = false; // refused or failed once: this page plays HLS from then on
    this.socketUp = false;
    this.polledAt = 0;
    this.stallTimer = null;
    this.video.addEventListener("playing", () => this.onPlaying());
    this.video.addEventListener("waiting", () => this.onStall());
    // a WebRTC stream "ends" when its connection drops: only the room's end (room.ended, the status) ends it
    this.video.addEventListener("ended", () => {
      if (!this.video.srcObject) this.show("ended");
    });
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
    const webrtcUrl = this.stage.dataset.webrtcUrl;
    if (webrtcUrl && !this.webrtcRefused && typeof RTCPeerConnection === "function") this.playWebRTC(url, webrtcUrl);
    else this.playHls(url);
  }

  async playHls(url) {
    this.stage.dataset.transport = "hls";
    const hls = await attachStream(this.video, url);
    if (this.url !== url) {
      hls?.destroy(); // stopped or switched while hls.js was loading
      return;
    }
    this.hls = hls;
    if (hls) {
      const Hls = await loadHls(); // loaded already: attachStream made the player with it
      hls.on(Hls.Events.ERROR, (_event, data) => this.onError(data));
    }
    this.video.play().catch(() => {}); // muted autoplay; a refusal leaves the poster and the tap-for-sound button
  }

  async playWebRTC(url, webrtcUrl) {
    const ice = JSON.parse(this.stage.dataset.iceServers || "[]");
    try {
      const via = this.stage.dataset.webrtcVia === "janus" ? watchJanus : watch; // scaled mode: Janus fans out
      const session = await via(this.video, webrtcUrl, ice, () => this.onWebRTCLost(url));
      if (this.url !== url) return session.close(); // stopped or switched meanwhile
      this.webrtc = session;
      this.stage.dataset.transport = "webrtc";
      this.video.play().catch(() => {});
    } catch {
      this.webrtcRefused = true; // full (503 media.webrtc_full), not connecting, or no WebRTC here: HLS
      if (this.url === url) this.playHls(url);
    }
  }

  onWebRTCLost(url) {
    this.webrtc = null;
    if (this.url !== url || this.state === "ended") return;
    this.url = null;
    if (this.state === "live") this.show("reconnecting");
    setTimeout(() => this.refresh(), 1000); // the stream may be back (a new program): play it as it is now
  }

  stop() {
    if (this.hls) this.hls.destroy();
    if (this.webrtc) this.webrtc.close();
    if (this.video.srcObject) this.video.srcObject = null;
    this.hls = null;
    this.webrtc = null;
    this.url = null;
  }

  // The program date-time (HLS EXT-X-PROGRAM-DATE-TIME) of the frame on screen: hls.js's playingDate, or
  // native HLS's start date + position (Safari). null before the first frame, or when the stream has none.
  programDate() {
    if (this.webrtc) return new Date(); // WebRTC plays a fraction of a second behind: the program is now
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
    if (data.type === "mediaError" && this.hls) {
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
    this.polledAt = Date.now();
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
      if (status.webrtc_url) this.stage.dataset.webrtcUrl = status.webrtc_url;
      if (status.webrtc_via) this.stage.dataset.webrtcVia = status.webrtc_via;
      if (!this.url) this.play(status.stream_url);
      if (status.state === "reconnecting") this.show("reconnecting");
    }
  }

  start() {
    if (this.stage.dataset.streamUrl) this.play(this.stage.dataset.streamUrl);
    document.addEventListener("knowcast:event", (event) => this.onEvent(event.detail || {}));
    window.addEventListener("pagehide", () => this.stop()); // a WebRTC viewer's place is freed at once
    onLive("status", (status) => {
      this.socketUp = Boolean(status.connected);
    });
    setInterval(() => {
      if (this.state === "ended" || document.hidden) return;
      const every = this.url && this.socketUp ? SLOW_POLL_MS : POLL_MS; // a crowd of players polls little
      if (Date.now() - this.polledAt >= every) this.refresh();
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
