// Analytics from the viewer's room page: a view (start, a heartbeat every 15 s while visible, end), product
// impressions and clicks, shares; experiment assignments for the page's other modules. The server computes
// the visitor id and refuses anything it did not expect; nothing here is trusted for money.
import { csrfToken } from "./_api.js";

const BEAT_MS = 15000;
const FIRST_BEAT_MS = 6000; // a viewer counts in UV once 1 s is watched: tell the server early (its floor is 5 s)
const URL_EVENTS = "/api/v1/analytics/events";

function newViewId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function startTracking(stage) {
  const roomId = Number(stage.dataset.roomId);
  const params = new URLSearchParams(location.search);
  let viewId = null;
  let lastBeat = 0;
  let timer = null;
  const seen = new Set();

  const send = (kind, extra = {}, keepalive = false) =>
    fetch(URL_EVENTS, {
      method: "POST",
      credentials: "same-origin",
      keepalive,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ events: [{ kind, room_id: roomId, view_id: viewId, at: Date.now(), ...extra }] }),
    })
      .then((r) => r.json())
      .then((result) => {
        const reasons = (result && result.reasons) || {};
        if (reasons["sequence.no_view"] || reasons["sequence.after_end"]) start(); // the server lost our view
      })
      .catch(() => {});

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
