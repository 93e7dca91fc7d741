// The replay page: the recording (VOD) with the chat replayed in time and chapters at each pinned product.
import { attachStream } from "./_player.js";
import { ChatReplay, playingDate, renderChapters } from "./_replay.js";

async function start(root) {
  const response = await fetch(`/api/v1/media/rooms/${root.dataset.roomId}/replay`, { credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  const video = root.querySelector("video");
  if (!data.vod_url) {
    root.querySelector("[data-testid=replay-empty]").hidden = false;
    return;
  }
  const hls = await attachStream(video, data.vod_url, { live: false });
  const startedAt = data.started_at ? Date.parse(data.started_at) : 0;
  const chat = new ChatReplay(root.querySelector("[data-testid=replay-chat]"), data.items, JSON.parse(root.dataset.strings || "{}"));
  renderChapters(root.querySelector("[data-testid=chapters]"), data.items, startedAt, (seconds) => {
    video.currentTime = seconds;
  });
  video.addEventListener("timeupdate", () => chat.render(playingDate(video, hls, startedAt)));
  video.play().catch(() => {});
}

const root = document.getElementById("replay");
if (root) start(root);
