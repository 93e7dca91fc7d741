// The browser's side of our WebRTC endpoints (docs/media.md): WHIP to publish (the console's camera, a 连麦
// guest), WHEP to watch a room well under a second behind. Offers carry all their ICE candidates (no trickle),
// as the server's endpoints expect.
import { csrfToken } from "./_api.js";

const GATHER_MS = 3000; // the offer goes once our ICE candidates are in it
export const CONNECT_MS = 6000; // a viewer whose WebRTC has not connected by then watches HLS instead

/** @param {RTCPeerConnection} pc */
export function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve(undefined);
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_MS); // some candidates (a slow STUN server) are not worth waiting for
  });
}

/** The server's refusal as an Error carrying its stable code. @param {Response} response */
export async function refusal(response) {
  const body = await response.json().catch(() => null);
  const error = (body && body.error) || {};
  return Object.assign(new Error(error.message || `HTTP ${response.status}`), { code: error.code });
}

/** @param {RTCPeerConnection} pc @param {number} ms */
export function connected(pc, ms) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === "connected") resolve(undefined);
      else if (pc.connectionState === "failed" || pc.connectionState === "closed") reject(new Error("webrtc_failed"));
    };
    pc.addEventListener("connectionstatechange", check);
    setTimeout(() => reject(new Error("webrtc_timeout")), ms);
    check();
  });
}

/**
 * A receive-only view into `video` on `pc`, set up by `negotiate` (WHEP here, Janus in _janus.js): resolves with
 * `{close}` once connected; rejects, closed, when negotiating fails or the connection does not come up in time
 * (the caller then plays HLS). `release` runs once when the view closes (tells the other end); `onLost` is called
 * once if the connection later fails.
 * @param {HTMLVideoElement} video
 * @param {RTCPeerConnection} pc
 * @param {() => Promise<void>} negotiate
 * @param {() => void} release
 * @param {() => void} onLost
 */
export async function view(video, pc, negotiate, release, onLost) {
  const stream = new MediaStream();
  pc.addEventListener("track", (event) => stream.addTrack(event.track));
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    pc.close();
    release();
  };
  try {
    await negotiate();
    await connected(pc, CONNECT_MS);
  } catch (err) {
    close();
    throw err;
  }
  pc.addEventListener("connectionstatechange", () => {
    if (open && (pc.connectionState === "failed" || pc.connectionState === "closed")) {
      close();
      onLost();
    }
  });
  video.srcObject = stream;
  return { close };
}

/**
 * Watches a room's program over WHEP into `video` (see `view`): rejects when the server refuses (503
 * `media.webrtc_full`: this process holds all the WebRTC viewers it can) or the connection does not come up in
 * time; the caller then plays HLS.
 * @param {HTMLVideoElement} video
 * @param {string} url
 * @param {RTCIceServer[]} iceServers
 * @param {() => void} onLost
 */
export async function watch(video, url, iceServers, onLost) {
  const pc = new RTCPeerConnection({ iceServers });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  /** @type {string | null} */
  let location = null;
  const negotiate = async () => {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/sdp", "X-CSRF-Token": csrfToken() },
      body: pc.localDescription.sdp,
      credentials: "same-origin",
    });
    if (response.status !== 201) throw await refusal(response);
    location = response.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  };
  const release = () => {
    if (!location) return;
    const headers = { "X-CSRF-Token": csrfToken() };
    fetch(location, { method: "DELETE", headers, credentials: "same-origin", keepalive: true }).catch(() => {});
  };
  return view(video, pc, negotiate, release, onLost);
}
