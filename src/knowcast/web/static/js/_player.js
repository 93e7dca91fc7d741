// The room's video: hls.js, or native HLS on Safari. The stream URL comes from the stage's data-stream-url.
import Hls from "hls.js";

export function attachStream(video, url) {
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

export function startPlayer(stage) {
  const video = stage.querySelector("video");
  if (video && stage.dataset.streamUrl) attachStream(video, stage.dataset.streamUrl);
}
