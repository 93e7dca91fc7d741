// Watching a room through Janus (scaled mode, docs/media.md): the page's WebRTC URL gives a ticket (Janus's
// HTTP API, a core token and a room token of our server's, the videoroom and the program's feed); we subscribe
// to that feed over Janus's REST API: a session, a videoroom handle, "join" as a subscriber (Janus sends the
// offer), "start" with our answer, which carries all our ICE candidates (no trickle). A long poll brings
// Janus's events; a keepalive holds the session; leaving destroys it.
import { csrfToken } from "./_api.js";
import { gathered, refusal, view } from "./_webrtc.js";

const KEEPALIVE_MS = 25000; // under Janus's session_timeout (60 s by default)
const ANSWER_MS = 10000;

/** A refusal from Janus as an Error with a stable code (the player only needs to know it failed). */
function janusError(/** @type {any} */ reply) {
  const error = (reply && reply.error) || {};
  const plugin = (reply && reply.plugindata && reply.plugindata.data) || {};
  const reason = error.reason || plugin.error || "janus error";
  return Object.assign(new Error(reason), { code: "media.janus_refused" });
}

class JanusSession {
  /** @param {string} url @param {string} token */
  constructor(url, token) {
    this.url = url.replace(/\/$/, "");
    this.token = token;
    this.id = 0;
    this.open = true;
    /** @type {Map<string, (reply: any) => void>} */
    this.waiting = new Map();
    this.timer = 0;
  }

  /** @param {string} path @param {Record<string, any>} body */
  async post(path, body) {
    const transaction = body.transaction || Math.random().toString(36).slice(2);
    const response = await fetch(this.url + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...body, transaction, token: this.token }),
    });
    const reply = await response.json();
    if (reply.janus === "error") throw janusError(reply);
    return reply;
  }

  async create() {
    this.id = (await this.post("", { janus: "create" })).data.id;
    this.poll();
    this.timer = window.setInterval(() => this.post(`/${this.id}`, { janus: "keepalive" }).catch(() => {}), KEEPALIVE_MS);
    return this;
  }

  async attach() {
    return (await this.post(`/${this.id}`, { janus: "attach", plugin: "janus.plugin.videoroom" })).data.id;
  }

  /** A message to a handle; resolves with the event that answers it (ack'ed requests answer later). */
  async message(/** @type {number} */ handle, /** @type {any} */ body, /** @type {any} */ jsep = undefined) {
    const transaction = Math.random().toString(36).slice(2);
    const answer = new Promise((resolve, reject) => {
      this.waiting.set(transaction, resolve);
      window.setTimeout(() => reject(Object.assign(new Error("janus_timeout"), { code: "media.janus_unreachable" })), ANSWER_MS);
    });
    const reply = await this.post(`/${this.id}/${handle}`, { janus: "message", body, jsep, transaction });
    const event = reply.janus === "ack" ? await answer : reply;
    this.waiting.delete(transaction);
    if (event.plugindata && event.plugindata.data && event.plugindata.data.error_code) throw janusError(event);
    return event;
  }

  async poll() {
    while (this.open) {
      const query = new URLSearchParams({ maxev: "10", token: this.token, rid: String(Date.now()) });
      let events;
      try {
        events = await (await fetch(`${this.url}/${this.id}?${query}`)).json();
      } catch {
        if (this.open) await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (!Array.isArray(events) && events.janus === "error") return; // the session is gone (Janus restarted)
      for (const event of Array.isArray(events) ? events : [events]) {
        const resolve = this.waiting.get(event.transaction);
        if (resolve) resolve(event);
      }
    }
  }

  destroy() {
    if (!this.open) return;
    this.open = false;
    window.clearInterval(this.timer);
    if (!this.id) return;
    const body = JSON.stringify({ janus: "destroy", transaction: "bye", token: this.token });
    fetch(`${this.url}/${this.id}`, { method: "POST", headers: { "Content-Type": "application/json" }, body, keepalive: true }).catch(() => {});
  }
}

/**
 * Watches a room's program through Janus into `video`, as `watch` in _webrtc.js does over WHEP: resolves once
 * connected, rejects when our server gives no ticket (the program is not in Janus, Janus is down) or Janus
 * refuses or the connection does not come up in time; the caller then plays HLS.
 * @param {HTMLVideoElement} video
 * @param {string} ticketUrl
 * @param {RTCIceServer[]} iceServers
 * @param {() => void} onLost
 * @param {(ticket: any) => number | undefined} feedOf which feed of the ticket to watch (a stage ticket has several)
 */
export async function watchJanus(video, ticketUrl, iceServers, onLost, feedOf = (ticket) => ticket.feed) {
  const response = await fetch(ticketUrl, {
    method: "POST",
    headers: { "X-CSRF-Token": csrfToken() },
    credentials: "same-origin",
  });
  if (!response.ok) throw await refusal(response);
  const ticket = await response.json();
  const janus = new JanusSession(ticket.url, ticket.token);
  const pc = new RTCPeerConnection({ iceServers: ticket.ice_servers || iceServers });
  const negotiate = async () => {
    await janus.create();
    const handle = await janus.attach();
    const join = { request: "join", ptype: "subscriber", room: ticket.room, streams: [{ feed: feedOf(ticket) }], token: ticket.room_token };
    const joined = await janus.message(handle, join);
    if (!joined.jsep) throw janusError({ error: { reason: "no offer from Janus" } });
    await pc.setRemoteDescription(joined.jsep);
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    await janus.message(handle, { request: "start" }, { type: "answer", sdp: pc.localDescription.sdp });
  };
  return view(video, pc, negotiate, () => janus.destroy(), onLost);
}
