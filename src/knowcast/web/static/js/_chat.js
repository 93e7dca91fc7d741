// The chat list: lines from snapshot and ticks, system lines from events marked "system", lines hidden by a
// moderator removed everywhere, and (for moderators) hide / mute / ban buttons on each line.
// A system line is written in this page's language from the event's data: its catalog key (`message`) and
// `params` (docs/protocol.md, "System lines"); the server's `text` is only the fallback.
import { api } from "./_api.js";
import { onLive } from "./_live.js";
import { systemText } from "./_messages.js";

const KEEP = 200;

/**
 * @param {import("./_live.js").Live} live
 * @param {{ list: HTMLElement, form: HTMLFormElement | null, strings: Record<string, string>, notice: HTMLElement }} parts
 */
export function startChat(live, { list, form, strings, notice }) {
  const roomId = live.roomId;
  let canModerate = false;

  const say = (text) => {
    if (!notice) return;
    notice.textContent = text;
    notice.hidden = !text;
  };

  const line = (item) => {
    const li = document.createElement("li");
    li.dataset.id = item.id;
    if (item.user_id) li.dataset.user = item.user_id;
    if (item.order_id) li.dataset.order = item.order_id;
    if (item.system) {
      li.className = `chat-line system event-${String(item.event).replaceAll(".", "-")}`;
      li.textContent = systemText(item, strings);
      return li;
    }
    li.className = "chat-line";
    if (item.badge) {
      const badge = document.createElement("span");
      badge.className = `chat-badge ${item.badge}`;
      badge.textContent = strings[`badge.${item.badge}`] || item.badge;
      li.append(badge);
    }
    const name = document.createElement("span");
    name.className = "chat-name";
    name.textContent = strings.said_by ? strings.said_by.replace("{name}", () => item.name) : `${item.name}：`; // "小林：" / "Lin: "
    const text = document.createElement("span");
    text.className = "chat-text";
    text.textContent = item.text;
    li.append(name, text);
    if (canModerate && item.user_id) li.append(modTools(item));
    return li;
  };

  const modTools = (item) => {
    const tools = document.createElement("span");
    tools.className = "mod-tools";
    const act = (label, testid, fn) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.dataset.testid = testid;
      b.setAttribute("data-testid", testid);
      b.addEventListener("click", () => fn().catch((err) => say(err.message)));
      tools.append(b);
    };
    act(strings.hide, "hide-message", () => api("POST", `/api/v1/rooms/${roomId}/chat/${encodeURIComponent(item.id)}/hide`, {}));
    act(strings.mute, "mute-user", () =>
      api("POST", `/api/v1/rooms/${roomId}/sanctions`, { user_id: item.user_id, kind: "mute", seconds: 300 }),
    );
    act(strings.ban, "ban-user", () => api("POST", `/api/v1/rooms/${roomId}/sanctions`, { user_id: item.user_id, kind: "ban" }));
    return tools;
  };

  const add = (items) => {
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    for (const item of items) list.append(line(item));
    while (list.children.length > KEEP) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  };

  onLive("snapshot", (m) => {
    canModerate = !!(m.you && m.you.can_moderate);
    list.replaceChildren();
    add(m.snapshot.chat || []);
  });
  onLive("welcome", (m) => {
    canModerate = !!(m.you && m.you.can_moderate);
    const input = form && form.querySelector("input");
    if (input && m.you && m.you.user_id) input.disabled = !m.you.can_chat;
    if (m.you && m.you.banned) say(strings.banned);
  });
  onLive("tick", (m) => {
    const items = [...(m.chat || [])];
    (m.events || []).forEach((e, i) => {
      if (e.data && e.data.system) {
        const { text, order_id: orderId, message, params } = e.data;
        items.push({ id: `s${m.seq}.${i}`, system: true, event: e.name, text, order_id: orderId, message, params });
      }
    });
    add(items);
  });
  onLive("error", (m) => say(m.message));

  document.addEventListener("knowcast:event", ({ detail }) => {
    const { name, data } = detail;
    if (name === "chat.hidden") {
      for (const li of list.querySelectorAll("li")) {
        const announced = li.dataset.order && (data.order_ids || []).includes(Number(li.dataset.order));
        if (li.dataset.id === data.message_id || (data.purge && li.dataset.user === String(data.user_id)) || announced) li.remove();
      }
    }
    const me = live.state.you && live.state.you.user_id;
    if (detail.replay || !me || data.user_id !== me) return;
    if (name === "chat.user_banned") say(strings.banned);
    if (name === "chat.user_muted") say(strings.muted);
    if (name === "chat.user_unbanned" || name === "chat.user_unmuted") say("");
  });

  if (form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const input = form.querySelector("input");
      const text = input.value.trim();
      if (!text) return;
      live.send({ type: "chat", text });
      input.value = "";
      say("");
    });
  }
}
