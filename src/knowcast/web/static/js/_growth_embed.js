// The embedded room's chat, read-only: the live protocol (docs/protocol.md) over the page's own origin.
const MAX_LINES = 60;

function line(list, item) {
  const li = document.createElement("li");
  if (item.system) li.className = "system";
  const text = item.system ? item.text || "" : `${item.name || ""}: ${item.text || ""}`;
  if (!text.trim()) return;
  li.textContent = text;
  list.append(li);
  while (list.children.length > MAX_LINES) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

export function startEmbedChat(list, roomId) {
  let lastSeq = null;
  let delay = 1000;
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/rooms/${roomId}/live`);
    socket.addEventListener("open", () => {
      delay = 1000;
      socket.send(JSON.stringify(lastSeq === null ? { type: "join", v: 1 } : { type: "join", v: 1, last_seq: lastSeq }));
    });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "welcome" && frame.snapshot) for (const item of frame.snapshot.chat || []) line(list, item);
      if (typeof frame.seq === "number") lastSeq = frame.seq;
      for (const item of frame.chat || []) line(list, item);
      for (const ev of frame.events || []) if (ev.data && ev.data.system && ev.data.text) line(list, { system: true, text: ev.data.text });
    });
    socket.addEventListener("close", () => {
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  };
  connect();
}
