// The live dashboard and advisor in the host console: polls the host-only analytics endpoint every 1.5 s.
import { api } from "./_api.js";
import { timelineChart } from "./_charts.js";
import { money as moneyText } from "./_format.js";
import { formatMessage } from "./_messages.js";

const POLL_MS = 1500;
let currency = "CNY"; // the room's, from the latest snapshot (the board's first order sets it)
/** @param {number | null | undefined} v */
const money = (v) => (v == null ? "—" : moneyText(v, currency));
const pct = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);
const count = (v) => (v == null ? "—" : Number(v).toLocaleString());
const FORMAT = {
  gmv: money, V: money, gpm: money, uv_value: money, P: pct, interaction_rate: pct,
  interaction_last5: pct, interaction_prev5: pct,
};

function fill(panel, snap) {
  currency = snap.currency || "CNY";
  for (const el of panel.querySelectorAll("[data-kpi]")) {
    const key = el.dataset.kpi;
    el.textContent = key === "avg_watch_seconds" ? minutes(panel, snap[key]) : (FORMAT[key] || count)(snap[key]);
  }
  const top = snap.funnel[0].viewers || 1;
  for (const step of snap.funnel) {
    const li = panel.querySelector(`[data-step="${step.step}"]`);
    if (!li) continue;
    li.querySelector("b").textContent = `${count(step.viewers)} · ${pct(step.of_uv)}`;
    li.querySelector("i").style.width = `${Math.max(2, (100 * step.viewers) / top)}%`;
  }
  list(panel, "top_products", snap.top_products, (p) => `${p.title || "#" + (p.product_id ?? "?")} · ${money(p.gmv)} · ${productLine(panel, p)}`);
  list(panel, "channels", snap.channels, (c) => `${c.channel} · ${count(c.uv)} (${pct(c.share)}) · ${money(c.gmv)}`);
  list(panel, "faq", snap.faq || [], (q) => `${q.keyword || "#" + q.faq_id} · ${count(q.replies)}`);
}

// "3 sold · 2 buyers (1.5%) · 40 clicks" / "3 件 · 2 位买家（1.5%）· 40 次点击": words in the page's language,
// not symbols standing in for them
function productLine(panel, p) {
  const values = { units: p.units ?? 0, buyers: p.buyers ?? 0, clicks: p.clicks ?? 0, conversion: pct(p.conversion) };
  return formatMessage(panel.dataset.tProductLine || "{units} · {buyers} ({conversion}) · {clicks}", values);
}

function minutes(panel, seconds) {
  if (seconds == null) return "—";
  return formatMessage(panel.dataset.tMinutes || "{n} min", { n: (seconds / 60).toFixed(1) });
}

function list(panel, name, rows, text) {
  const ol = panel.querySelector(`[data-list="${name}"]`);
  ol.replaceChildren(...rows.map((row) => Object.assign(document.createElement("li"), { textContent: text(row) })));
}

function advice(panel, items) {
  const ul = panel.querySelector(".advice");
  ul.replaceChildren(
    ...items.map((item) => {
      const li = document.createElement("li");
      li.dataset.rule = item.rule;
      const key = `advice${item.rule.replace(/(^|_)(\w)/g, (_m, _s, c) => c.toUpperCase())}`;
      const template = panel.dataset[key] || item.rule;
      li.append(template.replace(/\{(\w+)\}/g, (_m, name) => numberText(name, item.numbers[name])));
      const button = Object.assign(document.createElement("button"), { type: "button", className: "link", textContent: panel.dataset.labelDismiss });
      button.addEventListener("click", async () => {
        await api("POST", `/api/v1/analytics/advice/${item.id}/dismiss`);
        li.remove();
      });
      li.append(" ", button);
      return li;
    }),
  );
}

function numberText(name, value) {
  if (value == null) return "—";
  if (["last5", "prev5", "drop", "conversion"].includes(name)) return pct(value);
  if (name.endsWith("gmv")) return money(value);
  return count(value);
}

export function startDashboard(panel) {
  const chartEl = panel.querySelector('[data-chart="timeline"]');
  const chart = chartEl ? timelineChart(chartEl) : null;
  const url = `/api/v1/analytics/rooms/${panel.dataset.roomId}/live`;
  let busy = false;
  const tick = async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const snap = await api("GET", url);
      fill(panel, snap);
      advice(panel, snap.advice || []);
      if (chart) chart.update(snap.timeline);
      panel.dataset.updated = snap.at;
    } catch {
      // a missed tick is fine: the next one catches up
    } finally {
      busy = false;
    }
  };
  tick();
  return setInterval(tick, POLL_MS);
}
