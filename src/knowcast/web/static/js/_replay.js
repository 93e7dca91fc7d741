// Replays the room's timeline (chat, system lines, chapters) against the recording's clock.
// The recording carries EXT-X-PROGRAM-DATE-TIME, so each moment of the video has a wall-clock time
// (hls.playingDate); a timeline item shows once the video has reached the moment it happened.
import { systemText } from "./_messages.js";

export function playingDate(video, hls, startedAt) {
  if (hls && hls.playingDate) return hls.playingDate.getTime();
  if (typeof video.getStartDate === "function") {
    const start = video.getStartDate().getTime();
    if (!Number.isNaN(start)) return start + video.currentTime * 1000; // Safari's native HLS
  }
  return startedAt + video.currentTime * 1000;
}

export function itemsUntil(items, at) {
  // items are in time order; everything at or before `at`
  let end = 0;
  while (end < items.length && items[end].time <= at) end += 1;
  return end;
}

export class ChatReplay {
  constructor(list, items, strings = {}) {
    this.list = list;
    this.strings = strings;
    this.items = items.filter((i) => i.kind !== "chapter").map((i) => ({ ...i, time: Date.parse(i.at) }));
    this.shown = 0;
  }

  render(at) {
    const upto = itemsUntil(this.items, at);
    if (upto < this.shown) {
      this.list.replaceChildren(); // seeked backwards
      this.shown = 0;
    }
    for (const item of this.items.slice(this.shown, upto)) this.list.append(line(item, this.strings));
    if (upto !== this.shown) this.list.scrollTop = this.list.scrollHeight;
    this.shown = upto;
  }
}

function line(item, strings) {
  const li = document.createElement("li");
  li.className = item.kind;
  if (item.kind === "system") {
    // written from the line's catalog key and params in this page's language (stored text for older lines)
    const data = item.data || {};
    li.textContent = systemText({ text: item.text, message: data.message, params: data.params }, strings);
    return li;
  }
  if (item.name) {
    const who = document.createElement("b");
    who.textContent = `${item.name}: `;
    li.append(who);
  }
  li.append(document.createTextNode(item.text));
  return li;
}

export function renderChapters(list, items, startedAt, seek) {
  for (const item of items.filter((i) => i.kind === "chapter")) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button secondary small";
    button.textContent = item.text;
    button.addEventListener("click", () => seek(Math.max(0, (Date.parse(item.at) - startedAt) / 1000)));
    li.append(button);
    list.append(li);
  }
}
