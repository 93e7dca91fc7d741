// The notifications bell: the unread count as a badge, refreshed when the page becomes visible again.
import { api } from "./_api.js";

export function startBell(bell) {
  const badge = bell.querySelector("[data-growth-badge]");
  const refresh = async () => {
    try {
      const { unread } = await api("GET", "/api/v1/notifications/unread");
      badge.textContent = unread > 99 ? "99+" : String(unread);
      badge.hidden = unread === 0;
    } catch {
      badge.hidden = true;
    }
  };
  refresh();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
}
