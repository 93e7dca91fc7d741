// The room's poll: the open poll with live results; a signed-in viewer votes once; the host opens and closes.
import { api } from "./_api.js";
import { onLive } from "./_live.js";
import { formatMessage } from "./_messages.js";

export function startPoll(live, { card, strings, notice }) {
  const base = `/api/v1/rooms/${live.roomId}/polls`;
  let poll = null;
  let you = {};
  let voted = false;
  const fail = (err) => {
    if (notice) {
      notice.textContent = err.message;
      notice.hidden = false;
    }
  };

  const render = () => {
    card.hidden = !poll;
    if (!poll) return;
    const title = document.createElement("h3");
    title.textContent = poll.question;
    const rows = poll.options.map((label, i) => {
      const share = poll.total ? Math.round((100 * poll.counts[i]) / poll.total) : 0;
      const row = document.createElement("button");
      row.type = "button";
      row.className = "poll-option";
      row.setAttribute("data-testid", `poll-option-${i}`);
      row.disabled = voted || poll.state !== "open" || !you.user_id;
      row.style.setProperty("--share", `${share}%`);
      row.textContent = `${label} · ${share}% (${formatMessage(strings.vote_count, { count: poll.counts[i] })})`;
      row.addEventListener("click", () =>
        api("POST", `${base}/${poll.id}/vote`, { option: i })
          .then((p) => {
            voted = true;
            poll = p;
            render();
          })
          .catch((err) => {
            if (err.code === "poll.already_voted") voted = true;
            fail(err);
            render();
          }),
      );
      return row;
    });
    const footer = document.createElement("small");
    footer.textContent = poll.state === "open" ? formatMessage(strings.vote_count, { count: poll.total }) : strings.closed;
    card.replaceChildren(title, ...rows, footer);
    if (you.can_moderate && poll.state === "open") {
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = strings.close_poll;
      close.setAttribute("data-testid", "close-poll");
      close.addEventListener("click", () => api("POST", `${base}/${poll.id}/close`).catch(fail));
      card.append(close);
    }
  };

  onLive("welcome", (m) => {
    you = m.you || {};
    render();
  });
  onLive("snapshot", (m) => {
    poll = m.snapshot.poll || null;
    render();
  });
  document.addEventListener("knowcast:event", ({ detail }) => {
    if (!detail.name.startsWith("poll.") || !detail.data.poll) return;
    if (detail.name === "poll.opened" && (!poll || poll.id !== detail.data.poll.id)) voted = false;
    poll = detail.data.poll;
    render();
  });
}

export function startPollForm(live, form) {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const options = String(data.get("options") || "")
      .split(/\n|,|，/)
      .map((s) => s.trim())
      .filter(Boolean);
    api("POST", `/api/v1/rooms/${live.roomId}/polls`, { question: String(data.get("question") || ""), options })
      .then(() => form.reset())
      .catch((err) => alert(err.message));
  });
}
