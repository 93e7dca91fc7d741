// The host console's live panel: the same live connection as viewers, with moderation on every chat line,
// slow mode, polls, Q&A answers and pins, and inviting guest experts and room moderators.
import { api } from "./_api.js";
import { startChat } from "./_chat.js";
import { startLikes } from "./_likes.js";
import { connectLive, onLive } from "./_live.js";
import { startPoll, startPollForm } from "./_poll.js";
import { startQa } from "./_qa.js";

export function startConsoleLive(panel) {
  const strings = JSON.parse(panel.dataset.strings || "{}");
  /** @type {(id: string) => any} the panel's parts, each of the element type its template gives it */
  const $ = (id) => document.getElementById(id);
  const notice = $("live-notice");
  const fail = (err) => {
    notice.textContent = err.message;
    notice.hidden = false;
  };
  const live = connectLive(Number(panel.dataset.roomId));
  startChat(live, { list: $("console-chat"), form: $("console-chat-form"), strings, notice });
  startLikes(live, { likes: $("like-count"), viewers: $("viewer-count"), stage: panel });
  startQa(live, { list: $("questions"), strings, notice });
  startPoll(live, { card: $("poll-card"), strings, notice });
  startPollForm(live, $("poll-form"));
  const slow = $("slow-mode");
  onLive("snapshot", (m) => (slow.value = String(m.snapshot.slow_mode || 0)));
  document.addEventListener("knowcast:event", ({ detail }) => {
    if (detail.name === "chat.slow_mode") slow.value = String(detail.data.seconds);
  });
  slow.addEventListener("change", () =>
    api("PUT", `/api/v1/rooms/${live.roomId}/chat/slow-mode`, { seconds: Number(slow.value) }).catch(fail),
  );
  const people = $("people-form");
  people.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(people);
    const kind = e.submitter && e.submitter.value === "moderators" ? "moderators" : "guests";
    api("POST", `/api/v1/rooms/${live.roomId}/${kind}`, { email: data.get("email"), title: data.get("title") || "" })
      .then(() => {
        people.reset();
        notice.textContent = strings.people_added || "OK";
        notice.hidden = false;
      })
      .catch(fail);
  });
  return live;
}
