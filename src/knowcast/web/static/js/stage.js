// The guest's 连麦 page: /stage/join#<invite token>. Tapping Join asks for the camera and microphone and
// publishes them over WebRTC to /whip/stage with the token as bearer; the answer sends the host's camera and
// microphone back on the same connection, shown above the guest's own preview.
import { gathered, refusal } from "./_webrtc.js";

/** @param {HTMLElement} panel */
function startStage(panel) {
  const part = (name) => /** @type {HTMLElement} */ (panel.querySelector(`[data-stage=${name}]`));
  const status = part("status");
  const hostVideo = /** @type {HTMLVideoElement} */ (part("host"));
  const selfVideo = /** @type {HTMLVideoElement} */ (part("self"));
  const token = decodeURIComponent(location.hash.replace(/^#/, ""));
  let pc = /** @type {RTCPeerConnection | null} */ (null);
  let location_ = /** @type {string | null} */ (null);
  let stream = /** @type {MediaStream | null} */ (null);

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
    selfVideo.srcObject = null;
    hostVideo.srcObject = null;
    show(state, text);
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
    const remote = new MediaStream();
    hostVideo.srcObject = remote;
    peer.addEventListener("track", (event) => remote.addTrack(event.track));
    for (const track of stream.getTracks()) peer.addTransceiver(track, { direction: "sendrecv", streams: [stream] });
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
