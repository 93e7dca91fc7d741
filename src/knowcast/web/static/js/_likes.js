// Likes: taps are counted locally and sent at most every 300 ms as one frame; the room's running total and
// the live viewer count arrive with the ticks; each tap floats a heart.
import { icon } from "./_icons.js";
import { onLive } from "./_live.js";

const FLUSH_MS = 300;

/**
 * @param {import("./_live.js").Live} live
 * @param {{ button?: HTMLElement | null, likes: HTMLElement, viewers: HTMLElement, stage: HTMLElement }} parts
 *   the host console has no like button: it only shows the counts
 */
export function startLikes(live, { button, likes, viewers, stage }) {
  let pending = 0;
  const heart = () => {
    const h = document.createElement("span");
    h.className = "heart";
    h.append(icon("heart"));
    h.style.left = `${Math.random() * 45}%`;
    h.style.setProperty("--drift", `${Math.round((Math.random() - 0.5) * 50)}px`);
    stage.append(h);
    setTimeout(() => h.remove(), 1600);
  };
  const show = (m) => {
    if (typeof m.likes === "number" && likes) likes.textContent = m.likes.toLocaleString();
    if (typeof m.viewers === "number" && viewers) viewers.textContent = m.viewers.toLocaleString();
  };
  onLive("snapshot", (m) => show(m.snapshot));
  onLive("tick", (m) => {
    show(m);
    const others = Math.min(5, Math.ceil(Math.log2(1 + Math.max(0, (m.likes_delta || 0) - pending))));
    for (let i = 0; i < others; i++) setTimeout(heart, i * 120);
  });
  if (button) {
    button.addEventListener("click", () => {
      pending += 1;
      heart();
    });
  }
  setInterval(() => {
    if (pending > 0) {
      const count = Math.min(pending, 100);
      pending -= count;
      live.send({ type: "like", count });
    }
  }, FLUSH_MS);
}
