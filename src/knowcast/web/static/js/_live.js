// The room's live connection (protocol: docs/protocol.md). One WebSocket per page: join with a snapshot, then
// ticks with a per-room sequence number; on a drop it reconnects with the last seq and resumes with no gap
// and no duplicate (or takes a fresh snapshot). Every forwarded domain event is dispatched on `document` as
// `knowcast:event` ({name, data, seq, replay}); other modules send with window.knowcast.live.send(obj).
const HEARTBEAT_MS = 15000;
/** @type {Record<string, Array<(message: any) => void>>} */
const listeners = {};
/** @type {Array<(join: Record<string, unknown>) => void>} */
const joining = [];

/**
 * @typedef {{ seq: number | null, you: { user_id?: number } & Record<string, any> | null, socket: WebSocket | null, retry: number, queue: Array<{ type: string } & Record<string, unknown>> }} LiveState
 * @typedef {{ send: (obj: { type: string } & Record<string, unknown>) => void, state: LiveState, roomId: number | string }} Live
 */

/**
 * What a frame carrying `seq` means after `last` (the last sequence number applied; null before the welcome):
 * "apply" it, drop it as a "duplicate" (a resume may repeat what we have), or a "gap" (something was missed:
 * close and resume from `last`, or take a fresh snapshot).
 * @param {number | null} last
 * @param {number} seq
 * @returns {"apply" | "duplicate" | "gap"}
 */
export function sequenceStep(last, seq) {
  if (last === null) return "apply";
  if (seq <= last) return "duplicate";
  return seq === last + 1 ? "apply" : "gap";
}

/**
 * Whether a close with this code is worth reconnecting after: a 44xx refusal (not allowed, banned, room gone)
 * is final, except 4408 (the server timed the connection out).
 * @param {number} code
 */
export function reconnects(code) {
  return !(code >= 4400 && code < 4500 && code !== 4408);
}

/**
 * The wait before reconnect attempt `retry` (1..6): exponential from 600 ms, jittered by `random` in [0, 1)
 * to between half and one and a half times that, so a room's viewers do not all come back at once.
 * @param {number} retry
 * @param {number} random
 */
export function retryDelay(retry, random) {
  return 300 * 2 ** retry * (0.5 + random);
}

/**
 * @param {"snapshot" | "welcome" | "tick" | "error" | "status" | "tracked"} type
 * @param {(message: any) => void} fn
 */
export function onLive(type, fn) {
  (listeners[type] ||= []).push(fn);
}

/**
 * Lets a module add to each join frame before it is sent (the analytics events that waited for the socket ride
 * it: one frame less per viewer, docs/protocol.md). The frame must stay within the server's 4096 bytes.
 * @param {(join: Record<string, unknown>) => void} fn
 */
export function onJoining(fn) {
  joining.push(fn);
}

function emit(type, message) {
  for (const fn of listeners[type] || []) {
    try {
      fn(message);
    } catch (err) {
      console.error(err);
    }
  }
}

function dispatchEvent(event, seq, replay) {
  document.dispatchEvent(new CustomEvent("knowcast:event", { detail: { name: event.name, data: event.data, seq, replay } }));
}

function visitorId() {
  try {
    let id = localStorage.getItem("kc_visitor");
    if (!id) {
      id = Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem("kc_visitor", id);
    }
    return id;
  } catch {
    return undefined;
  }
}

/**
 * @param {number | string} roomId
 * @returns {Live}
 */
export function connectLive(roomId) {
  /** @type {LiveState} */
  const state = { seq: null, you: null, socket: null, retry: 0, queue: [] };
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/rooms/${roomId}/live`;

  /** @param {{ type: string } & Record<string, unknown>} obj */
  const send = (obj) => {
    const socket = state.socket;
    if (socket && socket.readyState === WebSocket.OPEN && state.you) socket.send(JSON.stringify(obj));
    else if (obj.type !== "heartbeat") state.queue.push(obj);
  };

  const onFrame = (message) => {
    if (message.type === "welcome") {
      state.you = message.you;
      if (!message.resumed) {
        state.seq = message.seq;
        emit("snapshot", message);
        for (const event of message.snapshot.events || []) dispatchEvent(event, event.seq, true);
      } else {
        state.seq = message.seq;
      }
      document.documentElement.dataset.live = "joined"; // for styles (and tests) that wait for the room
      emit("welcome", message);
      for (const obj of state.queue.splice(0)) send(obj);
      return;
    }
    if (message.type === "error" || message.type === "tracked") {
      emit(message.type, message);
      return;
    }
    if (typeof message.seq === "number") {
      const step = sequenceStep(state.seq, message.seq);
      if (step === "duplicate") return; // already applied
      if (step === "gap") {
        state.socket.close(4000, "gap"); // resume fills it, or a fresh snapshot replaces our state
        return;
      }
      state.seq = message.seq;
      emit("tick", message);
      for (const event of message.events || []) dispatchEvent(event, message.seq, false);
    }
  };

  const open = () => {
    const socket = new WebSocket(url);
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.retry = 0;
      /** @type {{ type: "join", v: number, visitor: string | undefined, last_seq?: number } & Record<string, unknown>} */
      const join = { type: "join", v: 1, visitor: visitorId() };
      if (state.seq !== null) join.last_seq = state.seq;
      for (const add of joining) add(join);
      socket.send(JSON.stringify(join));
      emit("status", { connected: true });
    });
    socket.addEventListener("message", (e) => onFrame(JSON.parse(e.data)));
    socket.addEventListener("close", (e) => {
      state.you = null;
      document.documentElement.dataset.live = "offline";
      emit("status", { connected: false, code: e.code });
      if (!reconnects(e.code)) return; // refused: reconnecting will not help
      state.retry = Math.min(state.retry + 1, 6);
      setTimeout(open, retryDelay(state.retry, Math.random()));
    });
  };

  setInterval(() => {
    if (document.visibilityState === "visible") send({ type: "heartbeat" });
  }, HEARTBEAT_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") send({ type: "heartbeat" });
  });
  open();
  const live = { send, state, roomId };
  window.knowcast = window.knowcast || {};
  window.knowcast.live = live;
  return live;
}
