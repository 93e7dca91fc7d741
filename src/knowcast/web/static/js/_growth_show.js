// The run-of-show panel: the current and next step, one tap runs the next one, the script with plan vs actual.
import { api } from "./_api.js";

const POLL_MS = 5000;

function minutes(seconds) {
  return `${Math.round(seconds / 60)}′`;
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "–";
}

export function startShow(panel) {
  const base = `/api/v1/rooms/${panel.dataset.roomId}/show`;
  const t = (key) => panel.dataset[key] || "";
  const current = panel.querySelector("[data-show-current]");
  const next = panel.querySelector("[data-show-next]");
  const points = panel.querySelector("[data-show-points]");
  const run = panel.querySelector("[data-show-run]");
  const error = panel.querySelector("[data-show-error]");
  const list = panel.querySelector("[data-show-steps]");
  const kindName = (step) => t(`tKind${step.kind[0].toUpperCase()}${step.kind.slice(1)}`);
  const label = (step) => (step ? `${step.position}. ${kindName(step)} · ${step.title}` : "–");
  let nextId = null;

  const fail = (err) => {
    error.textContent = err.message;
    error.hidden = false;
  };

  const action = (text, path, method = "POST") => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = text;
    button.addEventListener("click", async () => {
      try {
        await api(method, path);
      } catch (err) {
        fail(err);
      }
      refresh();
    });
    return button;
  };

  const row = (step) => {
    const li = document.createElement("li");
    li.dataset.state = step.state;
    li.dataset.testid = "show-step";
    const state = t(`tState${step.state[0].toUpperCase()}${step.state.slice(1)}`);
    const actual = step.started_at ? ` · ${t("tActual")} ${clock(step.started_at)}` : "";
    li.textContent = `${label(step)} — ${t("tPlanned")} +${minutes(step.planned_offset_seconds)} (${clock(step.planned_at)})${actual} · ${state}${step.error_code ? ` · ${step.error_code}` : ""}`;
    const path = `${base}/steps/${step.id}`;
    if (step.state === "pending") li.append(" ", action(t("tSkip"), `${path}/skip`), " ", action(t("tDelete"), path, "DELETE"));
    if (step.state === "failed") li.append(" ", action(t("tRetry"), `${path}/retry`));
    return li;
  };

  const show = (data) => {
    current.textContent = label(data.current);
    next.textContent = data.next ? label(data.next) : data.steps.length ? t("tDone") : t("tNone");
    points.textContent = data.next ? data.next.talking_points : "";
    nextId = data.next ? data.next.id : null;
    run.disabled = nextId === null;
    run.dataset.stepId = nextId ?? "";
    list.replaceChildren(...data.steps.map(row));
  };

  const refresh = async () => {
    try {
      show(await api("GET", base));
    } catch (err) {
      fail(err);
    }
  };

  run.addEventListener("click", async () => {
    if (nextId === null) return;
    run.disabled = true; // the server refuses a second run of the same step anyway (show.step_already_run)
    error.hidden = true;
    try {
      await api("POST", `${base}/steps/${nextId}/run`);
    } catch (err) {
      fail(err);
    }
    refresh();
  });

  const form = panel.querySelector("[data-show-form]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    let params;
    try {
      params = JSON.parse(String(data.get("params") || "{}"));
    } catch (err) {
      fail(err);
      return;
    }
    const body = {
      kind: data.get("kind"),
      title: data.get("title"),
      talking_points: data.get("talking_points") || "",
      planned_offset_seconds: Number(data.get("offset") || 0) * 60,
      auto: data.get("auto") === "on",
      params,
    };
    try {
      await api("POST", `${base}/steps`, body);
      form.reset();
      error.hidden = true;
    } catch (err) {
      fail(err);
    }
    refresh();
  });

  refresh();
  setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, POLL_MS);
}
