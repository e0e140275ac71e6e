// Apache ECharts (vendored, window.echarts) with the app's look: one palette, readable
// axes, tooltips that always name n. A chart is declared while a page is built and started
// once its element is in the document (ECharts measures it), then resized with it.

import { h } from "./dom.js";
import { lang } from "./i18n.js";

export const PALETTE = ["#2f5bd3", "#0f8a80", "#e0a526", "#c23047", "#7c5cc4", "#5b8def", "#8a99b0"];
export const COLORS = {
  brand: "#2f5bd3",
  teal: "#0f8a80",
  amber: "#e0a526",
  red: "#c23047",
  grey: "#8a99b0",
  band: "rgba(47, 91, 211, 0.14)",
};

const pending = [];
const live = new Set();

/** A chart element; `option` is applied once the element is in the page. */
export function chart(option, { tall = false, height = null, label = "" } = {}) {
  const el = h("div.chart", {
    class: tall ? "tall" : "",
    role: "img",
    "aria-label": label,
    style: height ? { height: `${height}px` } : undefined,
  });
  pending.push({ el, option, declared: Date.now() });
  return el;
}

// A declared chart whose element never reached the page (a drawing that was replaced
// before it finished) is forgotten after this long.
const STALE_MS = 30_000;

/** Start the declared charts whose elements are in the document; the others wait. */
export function startCharts() {
  const echarts = window.echarts;
  const waiting = [];
  for (const entry of pending.splice(0)) {
    const { el, option, declared } = entry;
    if (!el.isConnected || !echarts) {
      if (Date.now() - declared < STALE_MS) waiting.push(entry);
      continue;
    }
    const instance = echarts.init(el, null, { renderer: "canvas", locale: lang() === "zh" ? "ZH" : "EN" });
    instance.setOption({ ...baseOption(), ...option });
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(el);
    live.add({ instance, observer });
  }
  pending.push(...waiting);
}

/** Dispose the running charts (before their page is drawn again); declared ones wait. */
export function disposeCharts() {
  for (const { instance, observer } of live) {
    observer.disconnect();
    instance.dispose();
  }
  live.clear();
}

function baseOption() {
  return {
    color: PALETTE,
    textStyle: {
      fontFamily: getComputedStyle(document.body).fontFamily,
      color: "#1c2434",
    },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    tooltip: {
      trigger: "axis",
      confine: true,
      backgroundColor: "#ffffff",
      borderColor: "#e3e8ef",
      textStyle: { color: "#1c2434", fontSize: 12.5 },
    },
    legend: { top: 0, left: 0, icon: "roundRect", itemWidth: 12, itemHeight: 8 },
    animationDuration: 400,
  };
}

export function categoryAxis(labels, extra = {}) {
  return {
    type: "category",
    data: labels,
    axisTick: { alignWithLabel: true },
    axisLine: { lineStyle: { color: "#cdd5df" } },
    axisLabel: { color: "#4a5568", hideOverlap: true, ...(extra.axisLabel || {}) },
    ...extra,
  };
}

export function valueAxis(extra = {}) {
  return {
    type: "value",
    splitLine: { lineStyle: { color: "#eef1f5" } },
    axisLabel: { color: "#4a5568", ...(extra.axisLabel || {}) },
    ...extra,
  };
}

/** Escape text for ECharts' HTML tooltips (names come from the API). */
export function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
