// The viewer's room page: the player (hls.js, or native HLS on Safari) and the room's areas.
import Hls from "hls.js";

const stage = document.getElementById("stage");
const video = document.getElementById("player");

export function attachStream(url) {
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url; // Safari plays HLS itself
    return null;
  }
  if (!Hls.isSupported()) return null;
  const hls = new Hls({ lowLatencyMode: true, liveSyncDurationCount: 2, backBufferLength: 30 });
  hls.loadSource(url);
  hls.attachMedia(video);
  return hls;
}

if (stage && stage.dataset.streamUrl) attachStream(stage.dataset.streamUrl);
