// The review report page: the timeline chart from the report JSON (tables are rendered by the server).
import { api } from "./_api.js";
import { timelineChart } from "./_charts.js";

/** @type {HTMLElement | null} */
const page = document.querySelector("[data-testid=review-report]");
const el = page && page.querySelector('[data-chart="report-timeline"]');
if (el) {
  const chart = timelineChart(el);
  const model = new URLSearchParams(location.search).get("model") || "last";
  api("GET", `/api/v1/analytics/rooms/${page.dataset.roomId}/report?model=${encodeURIComponent(model)}`).then((report) => chart.update(report.timeline));
}
