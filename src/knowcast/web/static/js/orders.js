// "My orders": each "去支付" counts its hold time down; one that runs out reloads the page (it then says expired).
import { clock } from "./_format.js";

const holds = [.../** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-hold]"))].map((node) => ({ node, until: Date.now() + Number(node.dataset.hold) * 1000 }));
if (holds.length) {
  const timer = setInterval(() => {
    for (const { node, until } of holds) {
      const left = until - Date.now();
      node.textContent = clock(left);
      if (left <= 0) {
        clearInterval(timer);
        window.location.reload();
      }
    }
  }, 1000);
}
