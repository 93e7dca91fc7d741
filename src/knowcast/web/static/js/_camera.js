// "Go live with camera": the browser publishes its camera and microphone over WebRTC with WHIP (RFC 9725) to
// /whip/rooms/{id}, the stream key as bearer token; the server turns it into the same HLS program as OBS.
import { gathered, refusal } from "./_webrtc.js";

async function publish(panel, stream) {
  const pc = new RTCPeerConnection({ iceServers: JSON.parse(panel.dataset.iceServers || "[]") });
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const response = await fetch(panel.dataset.whipUrl, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${panel.dataset.key}` },
    body: pc.localDescription.sdp,
  });
  if (response.status !== 201) {
    pc.close();
    throw await refusal(response);
  }
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  return { pc, location: response.headers.get("Location") };
}

export function startCamera(panel) {
  const button = (name) => panel.querySelector(`[data-camera=${name}]`);
  const preview = panel.querySelector("video");
  const status = button("status");
  let session = null;
  let stream = null;

  const show = (state, detail = "") => {
    panel.dataset.camera = state;
    status.textContent = [status.dataset[state] || "", detail].filter(Boolean).join(" ");
    button("start").hidden = state === "connecting" || state === "live";
    button("stop").hidden = !button("start").hidden;
  };

  const stop = async (state = "off") => {
    const current = session;
    session = null;
    if (current) {
      if (current.location) fetch(current.location, { method: "DELETE" }).catch(() => {});
      current.pc.close();
    }
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    preview.srcObject = null;
    show(state);
  };

  button("start").addEventListener("click", async () => {
    show("connecting");
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 }, facingMode: "user" },
        audio: { echoCancellation: true, noiseSuppression: true },
      });
    } catch (error) {
      await stop("denied");
      return;
    }
    preview.srcObject = stream;
    try {
      session = await publish(panel, stream);
    } catch (error) {
      await stop("failed");
      status.textContent += ` ${error.message}`;
      return;
    }
    session.pc.addEventListener("connectionstatechange", () => {
      const state = session && session.pc.connectionState;
      if (state === "connected") show("live");
      if (state === "failed") stop("failed");
    });
  });
  button("stop").addEventListener("click", () => stop("off"));
  window.addEventListener("pagehide", () => stop("off"));
  show("off");
}
