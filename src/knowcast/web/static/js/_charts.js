// Charts for analytics pages: a uPlot time series of viewers (left axis), chat lines and sales (right axis).
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const COLORS = { viewers: "#ff2d55", chat: "#5e5ce6", gmv: "#34c759" };

function size(el) {
  return { width: Math.max(280, el.clientWidth || 320), height: 200 };
}

export function timelineChart(el) {
  const label = (key) => el.dataset[`label${key[0].toUpperCase()}${key.slice(1)}`] || key;
  const opts = {
    ...size(el),
    series: [
      {},
      { label: label("viewers"), stroke: COLORS.viewers, width: 2, scale: "v" },
      { label: label("chat"), stroke: COLORS.chat, width: 1, scale: "n" },
      { label: label("gmv"), stroke: COLORS.gmv, fill: "rgba(52,199,89,0.15)", width: 1, scale: "n", paths: uPlot.paths.bars?.({ size: [0.6] }) },
    ],
    axes: [{}, { scale: "v" }, { scale: "n", side: 1, grid: { show: false } }],
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
