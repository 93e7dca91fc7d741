// 连麦 on the host console: invite a guest (a one-time link, or one of the room's guests), see and hear each
// guest directly over WebRTC (a recvonly view per guest), mute or remove them, switch the program's layout.
// The stage's state is read every 2 s (and at once on a stage.* event) from /api/v1/media/rooms/{id}/stage.
import { api, csrfToken as csrf } from "./_api.js";
import { watchJanus } from "./_janus.js";
import { gathered } from "./_webrtc.js";

const POLL_MS = 2000;

/** @param {HTMLElement} panel */
export function startStageConsole(panel) {
  const roomId = panel.dataset.roomId;
  const base = `/api/v1/media/rooms/${roomId}/stage`;
  const part = (name) => /** @type {HTMLElement} */ (panel.querySelector(`[data-stage=${name}]`));
  const list = part("guests");
  const status = part("status");
  /** @type {Map<string, {tile: HTMLElement, pc: RTCPeerConnection | null, view: string | null, janus?: {close: () => void} | null}>} */
  const tiles = new Map();

  /** Scaled mode (data-janus): the guest's feed from Janus with the host's stage ticket, retried while the server
   * publishes it; null when it does not come (the console then watches through the server). */
  const throughJanus = async (guestId, video, tile) => {
    const gone = () => !tiles.has(guestId) && attempts > 0;
    let attempts = 0;
    const feedOf = (ticket) => (ticket.feeds.find((feed) => feed.display === `guest:${guestId}`) || {}).feed;
    const ice = JSON.parse(panel.dataset.iceServers || "[]");
    for (; attempts < 10 && !gone(); attempts++) {
      try {
        const view = await watchJanus(video, `${base}/ticket`, ice, () => delete tile.dataset.via, feedOf);
        if (!tiles.has(guestId)) {
          view.close(); // the guest left while we were connecting
          return null;
        }
        tile.dataset.via = "janus";
        return view;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    return null;
  };

  const watch = async (guestId, video, tile) => {
    if (panel.dataset.janus === "true") {
      const janus = await throughJanus(guestId, video, tile);
      if (janus) return { pc: null, view: null, janus };
    }
    const pc = new RTCPeerConnection({ iceServers: JSON.parse(panel.dataset.iceServers || "[]") });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const stream = new MediaStream();
    video.srcObject = stream;
    pc.addEventListener("track", (event) => stream.addTrack(event.track));
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await fetch(`${base}/guests/${encodeURIComponent(guestId)}/view`, {
      method: "POST",
      headers: { "Content-Type": "application/sdp", "X-CSRF-Token": csrf() },
      credentials: "same-origin",
      body: pc.localDescription ? pc.localDescription.sdp : "",
    });
    if (response.status !== 201) {
      pc.close();
      return { pc: null, view: null };
    }
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    return { pc, view: response.headers.get("Location") };
  };

  const tileFor = (guest) => {
    const tile = document.createElement("li");
    tile.className = "stage-guest";
    tile.dataset.testid = "stage-guest";
    tile.dataset.guestId = guest.id;
    const video = document.createElement("video");
    video.playsInline = true;
    video.autoplay = true;
    const name = document.createElement("strong");
    name.textContent = guest.name || panel.dataset.guest || "";
    const state = document.createElement("span");
    state.className = "muted small";
    state.dataset.guest = "state";
    const mute = document.createElement("button");
    mute.type = "button";
    mute.className = "button small secondary";
    mute.dataset.guest = "mute";
    mute.addEventListener("click", () => {
      const muted = tile.dataset.muted !== "true";
      act(() => api("PUT", `${base}/guests/${encodeURIComponent(guest.id)}/mute`, { muted }));
    });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button small danger";
    remove.dataset.guest = "remove";
    remove.textContent = panel.dataset.remove || "";
    remove.addEventListener("click", () => act(() => api("DELETE", `${base}/guests/${encodeURIComponent(guest.id)}`)));
    tile.append(video, name, state, mute, remove);
    const entry = { tile, pc: /** @type {RTCPeerConnection | null} */ (null), view: /** @type {string | null} */ (null) };
    watch(guest.id, video, tile)
      .then((view) => Object.assign(entry, view))
      .catch(() => {});
    return entry;
  };

  const drop = (id) => {
    const entry = tiles.get(id);
    if (!entry) return;
    if (entry.pc) entry.pc.close();
    if (entry.janus) entry.janus.close();
    if (entry.view) fetch(entry.view, { method: "DELETE", headers: { "X-CSRF-Token": csrf() } }).catch(() => {});
    entry.tile.remove();
    tiles.delete(id);
  };

  const render = (stage) => {
    const ids = new Set(stage.guests.map((g) => g.id));
    for (const id of [...tiles.keys()]) if (!ids.has(id)) drop(id);
    for (const guest of stage.guests) {
      if (!tiles.has(guest.id)) {
        const entry = tileFor(guest);
        tiles.set(guest.id, entry);
        list.append(entry.tile);
      }
      const { tile } = /** @type {{tile: HTMLElement}} */ (tiles.get(guest.id));
      tile.dataset.muted = String(guest.muted);
      const mute = /** @type {HTMLElement} */ (tile.querySelector("[data-guest=mute]"));
      mute.textContent = (guest.muted ? panel.dataset.unmute : panel.dataset.mute) || "";
      const state = /** @type {HTMLElement} */ (tile.querySelector("[data-guest=state]"));
      state.textContent = guest.muted ? panel.dataset.muted || "" : "";
    }
    for (const input of panel.querySelectorAll("[name=stage-layout]")) {
      const radio = /** @type {HTMLInputElement} */ (input);
      radio.checked = radio.value === stage.layout;
    }
    const notes = [];
    if (!stage.guests.length) notes.push(panel.dataset.empty);
    if (stage.guests.length >= stage.max_guests) notes.push(panel.dataset.full);
    if (stage.guests.length && !stage.host_on_camera) notes.push(panel.dataset.noCamera);
    if (!status.dataset.error) status.textContent = notes.filter(Boolean).join(" ");
  };

  let acted = 0; // a state asked for before the host's latest action is stale: it must not undo their click
  const refresh = () => {
    const asked = acted;
    return api("GET", base)
      .then((stage) => asked === acted && render(stage))
      .catch(() => {});
  };

  const act = (call) => {
    acted += 1;
    status.dataset.error = "";
    return call()
      .then((stage) => (stage ? render(stage) : refresh()))
      .catch((error) => {
        status.dataset.error = "1";
        status.textContent = error.message;
      });
  };

  part("layout").addEventListener("change", (event) => {
    const input = /** @type {HTMLInputElement} */ (event.target);
    act(() => api("PUT", `${base}/layout`, { layout: input.value }));
  });

  const form = /** @type {HTMLFormElement} */ (part("invite"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const userId = String(data.get("user_id") || "");
    const body = { name: String(data.get("name") || ""), user_id: userId ? Number(userId) : null };
    status.dataset.error = "";
    api("POST", `${base}/invites`, body)
      .then((invite) => {
        const url = /** @type {HTMLInputElement} */ (part("url"));
        url.value = invite.url;
        part("link").hidden = false;
        url.select();
      })
      .catch((error) => {
        status.dataset.error = "1";
        status.textContent = error.message;
      });
  });
  part("copy").addEventListener("click", async () => {
    const url = /** @type {HTMLInputElement} */ (part("url"));
    url.select();
    try {
      await navigator.clipboard.writeText(url.value);
    } catch {
      // clipboard access is refused on plain http: the link is selected for a manual copy
    }
  });

  api("GET", `/api/v1/rooms/${roomId}/guests`)
    .then((people) => {
      const select = part("who");
      for (const person of people) {
        const option = document.createElement("option");
        option.value = String(person.user_id);
        option.textContent = person.title ? `${person.name} · ${person.title}` : person.name;
        select.append(option);
      }
    })
    .catch(() => {});

  document.addEventListener("knowcast:event", (event) => {
    const detail = /** @type {CustomEvent<KnowcastEventDetail>} */ (event).detail;
    if (detail && String(detail.name).startsWith("stage.")) refresh();
  });
  window.addEventListener("pagehide", () => [...tiles.keys()].forEach(drop));
  refresh();
  setInterval(refresh, POLL_MS);
}
