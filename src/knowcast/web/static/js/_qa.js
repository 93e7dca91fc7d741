// Q&A: questions sorted pinned first, then open before answered, then by votes; viewers ask and upvote, the
// host (and guest experts) answer, the host pins. Changes arrive as qa.* events carrying the whole question.
import { api } from "./_api.js";
import { onLive } from "./_live.js";
import { formatMessage } from "./_messages.js";

function order(a, b) {
  return b.pinned - a.pinned || a.answered - b.answered || b.votes - a.votes || a.id - b.id;
}

/**
 * @param {import("./_live.js").Live} live
 * @param {{ list: HTMLElement, form?: HTMLFormElement | null, strings: Record<string, string>, notice: HTMLElement }} parts
 *   the host console answers and pins but asks nothing: no form there
 */
export function startQa(live, { list, form, strings, notice }) {
  const base = `/api/v1/rooms/${live.roomId}/questions`;
  const questions = new Map();
  let you = {};
  const fail = (err) => {
    if (notice) {
      notice.textContent = err.message;
      notice.hidden = false;
    }
  };

  const button = (label, testid, fn) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.setAttribute("data-testid", testid);
    b.addEventListener("click", () => fn().catch(fail));
    return b;
  };

  const render = () => {
    list.replaceChildren(
      ...[...questions.values()].sort(order).map((q) => {
        const li = document.createElement("li");
        li.className = `question${q.pinned ? " pinned" : ""}${q.answered ? " answered" : ""}`;
        li.dataset.id = q.id;
        const text = document.createElement("p");
        text.textContent = q.text;
        const meta = document.createElement("small");
        meta.textContent = `${q.name} · ${formatMessage(strings.upvote_count, { count: q.votes })}${q.answered ? ` · ${strings.answered}` : ""}`;
        li.append(text, meta);
        if (q.answer) {
          const answer = document.createElement("p");
          answer.className = "answer";
          answer.textContent = `${q.answered_by || ""}：${q.answer}`;
          li.append(answer);
        }
        if (you.user_id) li.append(button(strings.upvote, "upvote", () => api("POST", `${base}/${q.id}/vote`)));
        if (you.can_answer && !q.answered) {
          li.append(button(strings.mark_answered, "answer", () => api("POST", `${base}/${q.id}/answer`, { answer: "" })));
        }
        if (you.can_moderate) {
          li.append(button(q.pinned ? strings.unpin : strings.pin, "pin", () => api("POST", `${base}/${q.id}/pin`, { pinned: !q.pinned })));
        }
        return li;
      }),
    );
  };

  onLive("welcome", (m) => {
    you = m.you || {};
    if (form) form.hidden = !you.user_id;
    render();
  });
  onLive("snapshot", (m) => {
    questions.clear();
    for (const q of m.snapshot.questions || []) questions.set(q.id, q);
  });
  document.addEventListener("knowcast:event", ({ detail }) => {
    if (detail.name.startsWith("qa.") && detail.data.question) {
      questions.set(detail.data.question.id, detail.data.question);
      render();
    } else if (detail.name === "qa.removed") {
      // a deleted account: its questions leave the list
      for (const [id, q] of questions) if (q.user_id === detail.data.user_id) questions.delete(id);
      render();
    }
  });
  if (form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const input = form.querySelector("input");
      const text = input.value.trim();
      if (!text) return;
      api("POST", base, { text })
        .then(() => (input.value = ""))
        .catch(fail);
    });
  }
}
