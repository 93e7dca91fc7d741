// The notifications page: opening one marks it read; "mark all as read".
import { api } from "./_api.js";

for (const link of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-growth-read]"))) {
  link.addEventListener("click", () => {
    api("POST", `/api/v1/notifications/${link.dataset.growthRead}/read`).catch(() => {});
  });
}
/** @type {HTMLElement | null} */
const all = document.querySelector("[data-growth-read-all]");
if (all) {
  all.addEventListener("click", async () => {
    await api("POST", "/api/v1/notifications/read");
    for (const item of document.querySelectorAll(".notification-list .unread")) item.classList.remove("unread");
    all.hidden = true;
    /** @type {HTMLElement | null} */
    const badge = document.querySelector("[data-growth-badge]");
    if (badge) badge.hidden = true;
  });
}
