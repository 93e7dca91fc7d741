// Charts for analytics pages: a uPlot time series of viewers (left axis), chat lines and sales (right axis).
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { dateTimeFormat } from "./_time.js";

const COLORS = { viewers: "#ff2d55", chat: "#5e5ce6", gmv: "#34c759" };

function size(el) {
  return { width: Math.max(280, el.clientWidth || 320), height: 200 };
}

// The time axis and legend in the reader's language and the shop's time zone ("14:05", not "2:05pm"): uPlot's
// own labels are English only. Times are seconds since the epoch.
function timeAxis() {
  const clock = dateTimeFormat({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const full = dateTimeFormat({ month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  return {
    axis: { values: (_u, splits) => splits.map((v) => (v == null ? "" : clock.format(new Date(v * 1000)))) },
    legend: (_u, v) => (v == null ? "—" : full.format(new Date(v * 1000))),
  };
}

export function timelineChart(el) {
  const time = timeAxis();
  const label = (key) => el.dataset[`label${key[0].toUpperCase()}${key.slice(1)}`] || key;
  const opts = {
    ...size(el),
    series: [
      { label: label("time"), value: time.legend },
      { label: label("viewers"), stroke: COLORS.viewers, width: 2, scale: "v" },
      { label: label("chat"), stroke: COLORS.chat, width: 1, scale: "n" },
      { label: label("gmv"), stroke: COLORS.gmv, fill: "rgba(52,199,89,0.15)", width: 1, scale: "n", paths: uPlot.paths.bars?.({ size: [0.6] }) },
    ],
    axes: [time.axis, { scale: "v" }, { scale: "n", side: 1, grid: { show: false } }],
    scales: { x: { time: true } },
  };
  const plot = new uPlot(opts, [[], [], [], []], el);
  new ResizeObserver(() => plot.setSize(size(el))).observe(el);
  return {
    update(points) {
      plot.setData([
        points.map((p) => p.t),
        points.map((p) => p.viewers),
        points.map((p) => p.chat),
        points.map((p) => p.gmv / 100),
      ]);
    },
  };
}
