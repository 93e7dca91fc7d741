// The console's stream-health panel: bitrate, frame rate, keyframe interval, dropped frames and warnings,
// polled from /api/v1/media/rooms/{id}/health every two seconds while the page is visible.
const POLL_MS = 2000;

function messages(panel) {
  const catalog = {};
  for (const li of panel.querySelectorAll("[data-health=catalog] li")) catalog[li.dataset.code] = li.textContent;
  return catalog;
}

function fill(list, issues, catalog) {
  list.replaceChildren(
    ...issues.map((issue) => {
      const li = document.createElement("li");
      li.dataset.code = issue.code;
      li.textContent = catalog[issue.code] || issue.message;
      li.title = issue.message;
      return li;
    }),
  );
}

function render(panel, report, catalog) {
  const field = (name) => panel.querySelector(`[data-health=${name}]`);
  const number = (value, unit, digits = 0) => (value == null ? "–" : `${value.toFixed(digits)} ${unit}`);
  panel.dataset.publishing = String(report.publishing);
  const state = field("state");
  state.textContent = report.publishing ? state.dataset.on : state.dataset.off;
  field("bitrate").textContent = number(report.bitrate_kbps, "kbps");
  field("fps").textContent = number(report.fps, "fps", 1);
  field("keyframes").textContent = number(report.keyframe_interval_s, "s", 1);
  field("dropped").textContent = String(report.dropped_frames);
  const codecs = field("codecs");
  const names = [report.video_codec, report.audio_codec].filter(Boolean).join(" / ") || "–";
  codecs.textContent = report.transcoding ? `${names} (${codecs.dataset.transcoding})` : names;
  fill(field("warnings"), report.warnings, catalog);
  fill(field("problems"), report.problems.slice().reverse(), catalog);
}

export function startHealth(panel) {
  const catalog = messages(panel);
  const url = `/api/v1/media/rooms/${panel.dataset.roomId}/health`;
  const poll = async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) render(panel, await response.json(), catalog);
    } catch {
      // the next poll tries again
    }
  };
  poll();
  return setInterval(poll, POLL_MS);
}
