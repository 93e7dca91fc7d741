// The guest's 连麦 page: /stage/join#<invite token>. Tapping Join asks for the camera and microphone and
// publishes them over WebRTC to /whip/stage with the token as bearer; the answer sends the host's camera and
// microphone back on the same connection, shown above the guest's own preview. The offer also has a seat (a
// recvonly video and audio pair) for each other guest and a data channel on which the server says who sits where,
// so guests see and hear each other as they come and go without renegotiating; a guest's own sound never comes
// back (each seat only ever holds another guest).
// In Janus scaled mode (data-janus) the page then watches the host through Janus with a stage ticket asked at
// its own session (data-via="janus" once it does), and each seat watches the guest sitting in it through Janus too
// (their `guest:<id>` feed, data-via="janus" on the seat); what the connection brings stays the fallback for both.
import { watchJanus } from "./_janus.js";
import { gathered, refusal } from "./_webrtc.js";

/** @param {HTMLElement} panel */
function startStage(panel) {
  const part = (name) => /** @type {HTMLElement} */ (panel.querySelector(`[data-stage=${name}]`));
  const status = part("status");
  const hostVideo = /** @type {HTMLVideoElement} */ (part("host"));
  const selfVideo = /** @type {HTMLVideoElement} */ (part("self"));
  const videos = part("videos");
  const seats = /** @type {HTMLElement[]} */ ([...panel.querySelectorAll("[data-seat]")]);
  const seatVideo = (seat) => /** @type {HTMLVideoElement} */ (seat.querySelector("video"));
  const token = decodeURIComponent(location.hash.replace(/^#/, ""));
  let pc = /** @type {RTCPeerConnection | null} */ (null);
  let location_ = /** @type {string | null} */ (null);
  let stream = /** @type {MediaStream | null} */ (null);
  let janusView = /** @type {{ close: () => void } | null} */ (null);
  let remote = /** @type {MediaStream | null} */ (null);
  /** Per seat: the connection's picture and sound for it (the fallback) and the Janus view of its guest, if any. */
  const seatState = seats.map(() => ({
    fallback: /** @type {MediaStream | null} */ (null),
    guestId: "",
    view: /** @type {{ close: () => void } | null} */ (null),
  }));

  const show = (state, text = status.dataset[state] || "") => {
    panel.dataset.state = state;
    status.textContent = text;
    part("join").hidden = state === "connecting" || state === "live";
    part("leave").hidden = !part("join").hidden;
  };

  const stop = (state, text) => {
    if (location_) fetch(location_, { method: "DELETE" }).catch(() => {});
    location_ = null;
    if (pc) pc.close();
    pc = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    if (janusView) janusView.close();
    janusView = null;
    delete panel.dataset.via;
    selfVideo.srcObject = null;
    hostVideo.srcObject = null;
    seated([]);
    seats.forEach((seat, index) => {
      seatVideo(seat).srcObject = null;
      seatState[index].fallback = null;
    });
    show(state, text);
  };

  /** Who sits in each seat, as the server says: {guest_id, name, muted} or null for an empty seat. */
  const seated = (who) => {
    seats.forEach((seat, index) => {
      const guest = who[index] || null;
      seat.hidden = !guest;
      seat.dataset.guestId = guest ? guest.guest_id : "";
      /** @type {HTMLElement} */ (seat.querySelector("[data-seat-name]")).textContent = guest ? guest.name : "";
      /** @type {HTMLElement} */ (seat.querySelector("[data-seat-muted]")).hidden = !(guest && guest.muted);
    });
    videos.dataset.seats = String(who.filter(Boolean).length);
    seats.forEach((_, index) => seatThroughJanus(index, (who[index] || { guest_id: "" }).guest_id));
  };

  /** A seat's guest changed: drop the Janus view of the one before and, in scaled mode, watch the new one there. */
  const seatThroughJanus = (index, guestId) => {
    const state = seatState[index];
    const seat = seats[index];
    if (state.guestId === String(guestId)) return;
    if (state.view) state.view.close();
    state.view = null;
    state.guestId = String(guestId);
    delete seat.dataset.via;
    if (state.fallback) seatVideo(seat).srcObject = state.fallback;
    if (guestId && panel.dataset.janus === "true" && pc && location_) watchSeat(pc, location_, index, state.guestId);
  };

  /** Watch the guest in seat `index` through Janus (retried while the server publishes them); the connection's seat
   * stays the fallback when Janus fails or drops them. */
  const watchSeat = async (peer, guestLocation, index, guestId) => {
    const state = seatState[index];
    const seat = seats[index];
    const current = () => peer === pc && state.guestId === guestId;
    const ice = JSON.parse(panel.dataset.iceServers || "[]");
    const feed = (ticket) => (ticket.feeds.find((one) => one.display === `guest:${guestId}`) || {}).feed;
    const lost = () => {
      if (!current()) return;
      state.view = null;
      delete seat.dataset.via;
      seatVideo(seat).srcObject = state.fallback;
    };
    for (let attempt = 0; attempt < 15 && current(); attempt++) {
      try {
        const holder = document.createElement("video"); // the picture goes to the seat only if still current
        const view = await watchJanus(holder, `${guestLocation}/ticket`, ice, lost, (ticket) => {
          const id = feed(ticket);
          if (id === undefined) throw new Error("not in janus yet");
          return id;
        });
        if (!current()) {
          view.close();
          return;
        }
        state.view = view;
        seatVideo(seat).srcObject = holder.srcObject;
        seat.dataset.via = "janus";
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };

  const join = async () => {
    show("connecting");
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 }, facingMode: "user" },
        audio: { echoCancellation: true, noiseSuppression: true },
      });
    } catch {
      stop("denied");
      return;
    }
    selfVideo.srcObject = stream;
    const peer = new RTCPeerConnection({ iceServers: JSON.parse(panel.dataset.iceServers || "[]") });
    pc = peer;
    const fromServer = new MediaStream();
    remote = fromServer;
    hostVideo.srcObject = fromServer;
    const own = stream.getTracks().map((track) => peer.addTransceiver(track, { direction: "sendrecv", streams: [stream] }));
    peer.addEventListener("track", (event) => {
      if (own.includes(event.transceiver)) fromServer.addTrack(event.track); // the host's, on our own transceivers
    });
    for (const seat of seats) {
      const video = peer.addTransceiver("video", { direction: "recvonly" });
      const audio = peer.addTransceiver("audio", { direction: "recvonly" });
      const fallback = new MediaStream([video.receiver.track, audio.receiver.track]);
      seatState[seats.indexOf(seat)].fallback = fallback;
      seatVideo(seat).srcObject = fallback;
    }
    const channel = peer.createDataChannel("stage");
    channel.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "seats" && peer === pc) seated(message.seats);
    });
    peer.addEventListener("connectionstatechange", () => {
      if (peer.connectionState === "connected") show("live");
      if (peer !== pc) return;
      if (["failed", "closed", "disconnected"].includes(peer.connectionState)) stop("ended");
    });
    await peer.setLocalDescription(await peer.createOffer());
    await gathered(peer);
    const response = await fetch("/whip/stage", {
      method: "POST",
      headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token}` },
      body: peer.localDescription ? peer.localDescription.sdp : "",
    });
    if (response.status !== 201) {
      const error = await refusal(response);
      const known = status.dataset[String(error.code || "").replace("media.", "")];
      stop("failed", known || `${status.dataset.failed} ${error.message}`);
      if (error.code === "media.signin_required" || error.code === "media.invite_for_another") {
        const signin = /** @type {HTMLAnchorElement} */ (part("signin"));
        signin.href = `/signin?next=${encodeURIComponent(`/stage/join#${token}`)}`;
        signin.hidden = false;
      }
      return;
    }
    location_ = response.headers.get("Location");
    await peer.setRemoteDescription({ type: "answer", sdp: await response.text() });
    if (panel.dataset.janus === "true" && location_) viaJanus(peer, location_);
  };

  /** Watch the host through Janus: the stage ticket exists once the server has published us both (retried). */
  const viaJanus = async (peer, guestLocation) => {
    const ice = JSON.parse(panel.dataset.iceServers || "[]");
    const hostFeed = (ticket) => (ticket.feeds.find((feed) => feed.display === "host") || {}).feed;
    const lost = () => {
      janusView = null;
      delete panel.dataset.via;
      if (peer === pc) hostVideo.srcObject = remote;
    };
    for (let attempt = 0; attempt < 15 && peer === pc; attempt++) {
      try {
        const view = await watchJanus(hostVideo, `${guestLocation}/ticket`, ice, lost, hostFeed);
        if (peer !== pc) {
          view.close();
          return;
        }
        janusView = view;
        panel.dataset.via = "janus";
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };

  part("join").addEventListener("click", () => {
    join().catch((error) => stop("failed", `${status.dataset.failed} ${error.message}`));
  });
  part("leave").addEventListener("click", () => stop("off"));
  window.addEventListener("pagehide", () => stop("off"));
  if (!token || panel.dataset.enabled !== "true") {
    show("failed", status.dataset.noToken);
    part("join").hidden = true;
  } else {
    show("ready");
  }
}

const panel = document.querySelector("[data-testid=stage-join]");
if (panel instanceof HTMLElement) startStage(panel);
