// The room's live connection (protocol: docs/protocol.md). One WebSocket per page: join with a snapshot, then
// ticks with a per-room sequence number; on a drop it reconnects with the last seq and resumes with no gap
// and no duplicate (or takes a fresh snapshot). Every forwarded domain event is dispatched on `document` as
// `knowcast:event` ({name, data, seq, replay}); other modules send with window.knowcast.live.send(obj).
const HEARTBEAT_MS = 15000;
const listeners = {};

export function onLive(type, fn) {
  (listeners[type] ||= []).push(fn);
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

export function connectLive(roomId) {
  const state = { seq: null, you: null, socket: null, retry: 0, queue: [] };
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/rooms/${roomId}/live`;

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
    if (message.type === "error") {
      emit("error", message);
      return;
    }
    if (typeof message.seq === "number") {
      if (state.seq !== null && message.seq <= state.seq) return; // already applied
      if (state.seq !== null && message.seq !== state.seq + 1) {
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
      const join = { type: "join", v: 1, visitor: visitorId() };
      if (state.seq !== null) join.last_seq = state.seq;
      socket.send(JSON.stringify(join));
      emit("status", { connected: true });
    });
    socket.addEventListener("message", (e) => onFrame(JSON.parse(e.data)));
    socket.addEventListener("close", (e) => {
      state.you = null;
      document.documentElement.dataset.live = "offline";
      emit("status", { connected: false, code: e.code });
      if (e.code >= 4400 && e.code < 4500 && e.code !== 4408) return; // refused: reconnecting will not help
      state.retry = Math.min(state.retry + 1, 6);
      setTimeout(open, 300 * 2 ** state.retry * (0.5 + Math.random()));
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
