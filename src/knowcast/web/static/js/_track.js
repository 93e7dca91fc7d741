// Analytics from the viewer's room page: a view (start, a heartbeat every 15 s while visible, end), product
// impressions and clicks, shares; experiment assignments for the page's other modules. The server computes
// the visitor id and refuses anything it did not expect; nothing here is trusted for money.
// Events ride the room's live socket (a "track" frame, docs/protocol.md) once it has joined: no request of their
// own. Those waiting when the socket opens (the view's start) ride its join frame; until then they wait, at most
// SOCKET_WAIT_MS, then go by POST; so does the view's end (the page is leaving: a keepalive request outlives it,
// a socket frame may not). The server answers ("tracked") only when it refused one.
import { csrfToken } from "./_api.js";
import { onJoining, onLive } from "./_live.js";

const BEAT_MS = 15000;
const FIRST_BEAT_MS = 6000; // a viewer counts in UV once 1 s is watched: tell the server early (its floor is 5 s)
const URL_EVENTS = "/api/v1/analytics/events";
const SOCKET_WAIT_MS = 5000;
const MAX_FRAME = 3500; // characters; the socket refuses frames over 4096 bytes

function newViewId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The room's live connection when it has joined (started by _room_live.js), else null. */
function joinedLive() {
  const live = /** @type {any} */ (window).knowcast?.live;
  const socket = live?.state.socket;
  return live && live.state.you && socket && socket.readyState === WebSocket.OPEN ? live : null;
}

export function startTracking(stage) {
  const roomId = Number(stage.dataset.roomId);
  const params = new URLSearchParams(location.search);
  let viewId = null;
  let lastBeat = 0;
  let timer = null;
  const seen = new Set();

  /** @type {Array<Record<string, unknown>>} */
  let waiting = [];
  let waitTimer = 0;
  /** @type {Array<Record<string, unknown>>} events sent with a join frame, until its welcome comes back */
  let riding = [];

  const answered = (result) => {
    const reasons = (result && result.reasons) || {};
    if (reasons["sequence.no_view"] || reasons["sequence.after_end"]) start(); // the server lost our view
  };
  const post = (events, keepalive = false) =>
    fetch(URL_EVENTS, {
      method: "POST",
      credentials: "same-origin",
      keepalive,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ events }),
    })
      .then((r) => r.json())
      .then(answered)
      .catch(() => {});
  const flush = () => {
    clearTimeout(waitTimer);
    waitTimer = 0;
    const events = waiting;
    waiting = [];
    if (!events.length) return;
    const live = joinedLive();
    const frame = { type: "track", events };
    if (live && JSON.stringify(frame).length <= MAX_FRAME) live.send(frame);
    else post(events);
  };
  const send = (kind, extra = {}, keepalive = false) => {
    const event = { kind, room_id: roomId, view_id: viewId, at: Date.now(), ...extra };
    if (keepalive) {
      flush();
      post([event], true);
      return;
    }
    waiting.push(event);
    if (joinedLive()) flush();
    else if (!waitTimer) waitTimer = window.setTimeout(flush, SOCKET_WAIT_MS); // no socket yet: wait, then POST
  };
  onJoining((join) => {
    if (!waiting.length || JSON.stringify({ ...join, events: waiting }).length > MAX_FRAME) return;
    clearTimeout(waitTimer);
    waitTimer = 0;
    join.events = riding = waiting;
    waiting = [];
  });
  onLive("welcome", () => {
    riding = [];
    flush();
  });
  onLive("status", (status) => {
    if (status.connected || !riding.length) return;
    waiting = riding.concat(waiting); // the socket closed before it joined: they go with the next join, or by POST
    riding = [];
    if (!waitTimer) waitTimer = window.setTimeout(flush, SOCKET_WAIT_MS);
  });
  onLive("tracked", answered);

  const start = () => {
    viewId = newViewId();
    lastBeat = Date.now();
    seen.clear();
    send("view_start", {
      utm_source: params.get("utm_source"),
      utm_medium: params.get("utm_medium"),
      utm_campaign: params.get("utm_campaign"),
      ref: params.get("ref"),
      referrer: document.referrer || null,
    });
    document.querySelectorAll("[data-product-id]").forEach((el) => observer.observe(el));
  };
  const beat = () => {
    const now = Date.now();
    send("heartbeat", { watched_ms: Math.min(now - lastBeat, 20000) });
    lastBeat = now;
  };
  const end = () => {
    if (!viewId) return;
    send("view_end", { watched_ms: Math.min(Date.now() - lastBeat, 20000) }, true);
    viewId = null;
    clearInterval(timer);
  };
  const resume = () => {
    if (document.hidden) return end();
    clearInterval(timer);
    if (!viewId) {
      start();
      timer = setTimeout(() => {
        beat();
        timer = setInterval(beat, BEAT_MS);
      }, FIRST_BEAT_MS);
      return;
    }
    timer = setInterval(beat, BEAT_MS);
  };

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const id = Number(/** @type {HTMLElement} */ (entry.target).dataset.productId);
      if (entry.isIntersecting && id && viewId && !seen.has(id)) {
        seen.add(id);
        send("impression", { product_id: id });
      }
    }
  }, { threshold: 0.5 });
  new MutationObserver(() => document.querySelectorAll("[data-product-id]").forEach((el) => observer.observe(el))).observe(
    document.body, { childList: true, subtree: true },
  );
  document.addEventListener("click", (event) => {
    const target = /** @type {Element} */ (event.target);
    /** @type {HTMLElement | null} */
    const product = target.closest("[data-product-id]");
    if (product && viewId) send("click", { product_id: Number(product.dataset.productId) });
    /** @type {HTMLElement | null} */
    const share = target.closest("[data-share-target]");
    if (share && viewId) send("share", { target: share.dataset.shareTarget });
  });
  document.addEventListener("visibilitychange", resume);
  window.addEventListener("pagehide", end);
  resume();

  fetch(`/api/v1/analytics/rooms/${roomId}/assignments`, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => r.json())
    .then((body) => document.dispatchEvent(new CustomEvent("knowcast:experiments", { detail: body.assignments || [] })))
    .catch(() => {});
}
