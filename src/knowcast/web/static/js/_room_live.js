// The room page's live areas: chat, likes and viewer count, Q&A and the poll, on one live connection.
import { startChat } from "./_chat.js";
import { startLikes } from "./_likes.js";
import { connectLive } from "./_live.js";
import { startPoll } from "./_poll.js";
import { startQa } from "./_qa.js";

export function startRoomLive(stage) {
  const panel = document.getElementById("live-panel");
  if (!panel) return null;
  const strings = JSON.parse(panel.dataset.strings || "{}");
  const notice = document.getElementById("live-notice");
  const live = connectLive(Number(stage.dataset.roomId));
  /** @type {(id: string) => any} the room's parts, each of the element type its template gives it */
  const $ = (id) => document.getElementById(id);
  startChat(live, { list: $("chat-lines"), form: $("chat-form"), strings, notice });
  startLikes(live, { button: $("like-button"), likes: $("like-count"), viewers: $("viewer-count"), stage: $("hearts") || stage.querySelector(".video-area") || stage });
  startQa(live, { list: $("questions"), form: $("qa-form"), strings, notice });
  startPoll(live, { card: $("poll-card"), strings, notice });
  return live;
}
