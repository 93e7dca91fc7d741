// Growth panels on the host console: reminder and follower counts, FAQ auto-replies, posters, embed code.
import { api } from "./_api.js";
import { startShow } from "./_growth_show.js";
import { formatMessage } from "./_messages.js";

async function counts(panel) {
  const reminders = await api("GET", `/api/v1/rooms/${panel.dataset.roomId}/reminders`).catch(() => null);
  if (reminders) panel.querySelector("[data-growth-reminder-count]").textContent = String(reminders.reminders);
  const follow = await api("GET", `/api/v1/hosts/${panel.dataset.hostId}/follow`).catch(() => null);
  if (follow) panel.querySelector("[data-growth-follower-count]").textContent = String(follow.followers);
}

function startFaq(panel) {
  const roomId = Number(panel.dataset.roomId);
  const list = panel.querySelector("[data-faq-list]");
  const form = panel.querySelector("[data-faq-form]");
  const error = panel.querySelector("[data-faq-error]");
  const refresh = async () => {
    const entries = await api("GET", `/api/v1/faq?room_id=${roomId}`);
    list.replaceChildren(
      ...entries.map((entry) => {
        const li = document.createElement("li");
        li.textContent = `${entry.keywords.join(" / ")} → ${entry.answer} (${formatMessage(panel.dataset.tReplies, { n: entry.replies })}) `;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link";
        remove.textContent = panel.dataset.tRemove;
        remove.addEventListener("click", async () => {
          await api("DELETE", `/api/v1/faq/${entry.id}`);
          refresh();
        });
        li.append(remove);
        return li;
      }),
    );
    if (!entries.length) {
      const empty = document.createElement("li"); // a list holds only items (axe: list)
      empty.className = "muted";
      empty.textContent = panel.dataset.tEmpty;
      list.replaceChildren(empty);
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const keywords = String(data.get("keywords") || "").split(/[,，、]/).map((k) => k.trim()).filter(Boolean);
    const body = { keywords, answer: data.get("answer"), room_id: data.get("room_only") === "on" ? roomId : null };
    try {
      await api("POST", "/api/v1/faq", body);
      form.reset();
      error.hidden = true;
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
    refresh();
  });
  refresh().catch(() => {});
}

function startShare() {
  /** @type {HTMLFormElement | null} */
  const posterForm = document.querySelector("[data-poster-form]");
  /** @type {HTMLImageElement | null} */
  const preview = document.querySelector("[data-poster-preview]");
  if (posterForm && preview) {
    posterForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const submitter = /** @type {HTMLButtonElement | null} */ (/** @type {SubmitEvent} */ (event).submitter);
      const query = new URLSearchParams({
        source: String(new FormData(posterForm).get("source") || "poster"),
        locale: submitter ? submitter.value : "zh-CN",
      });
      preview.src = `/api/v1/rooms/${posterForm.dataset.roomId}/poster.png?${query}`;
      preview.hidden = false;
    });
  }
  /** @type {HTMLElement | null} */
  const copy = document.querySelector("[data-embed-copy]");
  /** @type {HTMLTextAreaElement | null} */
  const code = document.querySelector("[data-embed-code]");
  if (copy && code) {
    copy.addEventListener("click", async () => {
      code.select();
      try {
        await navigator.clipboard.writeText(code.value);
        copy.textContent = copy.dataset.copied;
      } catch {
        // clipboard access is refused on plain http: the code is selected for copying by hand
      }
    });
  }
  /** @type {HTMLElement | null} */
  const sites = document.querySelector("[data-embed-sites]");
  if (!sites) return;
  const refresh = async () => {
    const rows = await api("GET", "/api/v1/embed/sites").catch(() => null);
    if (rows === null) return; // only the owner may read them
    sites.replaceChildren(
      ...rows.map((site) => {
        const li = document.createElement("li");
        li.textContent = `${site.origin} `;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link";
        remove.textContent = sites.dataset.tRemove;
        remove.addEventListener("click", async () => {
          await api("DELETE", `/api/v1/embed/sites/${site.id}`);
          refresh();
        });
        li.append(remove);
        return li;
      }),
    );
    if (!rows.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = sites.dataset.tNone;
      sites.replaceChildren(none);
    }
  };
  /** @type {HTMLFormElement | null} */
  const form = document.querySelector("[data-embed-site-form]");
  if (form) {
    /** @type {HTMLElement} */
    const error = form.querySelector("[data-embed-error]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/api/v1/embed/sites", { origin: new FormData(form).get("origin") });
        form.reset();
        error.hidden = true;
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
      refresh();
    });
  }
  refresh();
}

export function startGrowthConsole() {
  const panel = document.querySelector("[data-growth-console]");
  if (!panel) return;
  counts(panel);
  const show = document.querySelector("[data-growth-show]");
  if (show) startShow(show);
  const faq = document.querySelector("[data-growth-faq]");
  if (faq) startFaq(faq);
  startShare();
}
