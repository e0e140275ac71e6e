// The dashboard of the tenant's pack: R&D (on-time delivery, delays by cause, complaints
// with control limits, cycle time, escaped defects, scorecards, capabilities, the request
// funnel, before/after a change) or school (gain by teaching style, rating vs parents,
// homework and question SLAs). Every figure shows its n; groups resting on too few people
// are shown as suppressed ("fewer than N people"), never as zero.
//
// A dashboard is a table of panels (RD_PANELS, SCHOOL_PANELS): each names the field it
// draws, its selection, title, hint and how it is drawn. All the panels of the current
// filter come in ONE request (the server reads the R&D panels over the period's work items
// from one SQL statement per request), shared by the cards through one promise; each card
// still shows its own loading state and, when GraphQL reports its field failed, its own
// error. The before/after panel has its own request: its date picker changes on its own.

import { isSchool, levels, minGroupSize } from "../app.js";
import { ApiError } from "../api.js";
import { categoryAxis, chart, COLORS, esc, valueAxis } from "../charts.js";
import { h } from "../dom.js";
import { date, int, num, pair, pct, pick, t } from "../i18n.js";
import { allSkills, allUnits, unitOptions } from "../lookups.js";
import { card, empty, field, kpi, lazy, nBadge, notice, pageHeader, select, suppressedLabel } from "../views.js";

const GROUP = "group { key labelEn labelZh startsOn }";
const BEFORE_AFTER = `query BeforeAfter($filter: DashboardFilterInput!, $changeOn: Date!, $windowDays: Int!) {
  rdDashboard(filter: $filter) {
    beforeAfter(changeOn: $changeOn, windowDays: $windowDays) {
      changeOn windowDays u pValue effectSize suppressed note { zh en }
      before { n median p80 people }
      after { n median p80 people }
    }
  }
}`;
const PANELS = `query Panels { templatePack { dashboardPanels { code name { zh en } } } }`;

const TIME_GROUPINGS = new Set(["MONTH", "QUARTER"]);

// --- dates -----------------------------------------------------------------------------------

const iso = (d) => d.toISOString().slice(0, 10);

function today() {
  const now = new Date();
  return new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()));
}

function addDays(day, days) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return iso(d);
}

export function presetRange(preset) {
  const end = today();
  const start = new Date(end);
  if (preset === "12m") {
    start.setUTCMonth(start.getUTCMonth() - 11, 1);
  } else if (preset === "24m") {
    start.setUTCMonth(start.getUTCMonth() - 23, 1);
  } else if (preset === "ytd") {
    start.setUTCMonth(0, 1);
  } else if (preset === "6m") {
    start.setUTCMonth(start.getUTCMonth() - 5, 1);
  }
  return { startsOn: iso(start), endsOn: iso(end) };
}

function middle(startsOn, endsOn) {
  const a = new Date(`${startsOn}T00:00:00Z`).getTime();
  const b = new Date(`${endsOn}T00:00:00Z`).getTime();
  return iso(new Date(a + (b - a) / 2));
}

// --- shared pieces -----------------------------------------------------------------------------

const label = (group) => pair(group.labelEn, group.labelZh);
const groupLabel = (g) => label(g.group || g);

/** Axis labels with n underneath: "2026-03\nn = 41", or the suppressed note. */
function axisWithN(groups, nOf) {
  const minPeople = minGroupSize();
  return categoryAxis(
    groups.map(groupLabel),
    {
      axisLabel: {
        // Every unit or level is named; months and quarters skip labels when crowded.
        interval: groups.length <= 12 && groups.every((g) => !(g.group || g).startsOn) ? 0 : "auto",
        formatter: (value, index) => {
          const g = groups[index];
          if (!g) return value;
          if (g.suppressed) return `${value}\n{sup|${t("suppressed.short", { n: minPeople })}}`;
          const n = nOf(g);
          return `${value}\n{n|n = ${n === null || n === undefined ? "–" : int(n)}}`;
        },
        rich: {
          n: { color: "#64748b", fontSize: 11, lineHeight: 16 },
          sup: { color: "#9a6400", fontSize: 11, lineHeight: 16 },
        },
      },
    },
  );
}

function suppressedNote(groups) {
  const hidden = groups.filter((g) => g.suppressed);
  if (!hidden.length) return null;
  return h(
    "span",
    t("suppressed.groups", { count: hidden.length, n: minGroupSize() }),
    " ",
    hidden.length <= 6 ? `(${hidden.map(groupLabel).join(", ")})` : "",
  );
}

function footOf(groups, nOf, key = "dashboard.totalN") {
  const total = groups.filter((g) => !g.suppressed).reduce((sum, g) => sum + (nOf(g) || 0), 0);
  return h("span", t(key, { n: int(total) }), " · ", suppressedNote(groups) || t("suppressed.none"));
}

function tooltipLines(title, rows) {
  return [`<strong>${esc(title)}</strong>`, ...rows.map(([name, value]) => `${esc(name)}: <strong>${esc(value)}</strong>`)].join("<br>");
}

function suppressedTooltip(title) {
  return `<strong>${esc(title)}</strong><br>${esc(t("suppressed.fewer", { n: minGroupSize() }))}`;
}

/** The tooltip of one group: `rowsOf(group)` as "name: value" lines, or that it is suppressed. */
function groupTooltip(groups, rowsOf, trigger = "axis") {
  return {
    trigger,
    formatter: (items) => {
      const g = groups[(Array.isArray(items) ? items[0] : items).dataIndex];
      return g.suppressed ? suppressedTooltip(groupLabel(g)) : tooltipLines(groupLabel(g), rowsOf(g));
    },
  };
}

/** One figure per group: a line over months and quarters, bars over units and levels. */
function groupSeries(groups, grouping, { name, value, color, dashed = false, ...extra }) {
  return {
    name,
    type: TIME_GROUPINGS.has(grouping) ? "line" : "bar",
    data: groups.map((g) => (g.suppressed ? null : value(g))),
    symbolSize: 7,
    barMaxWidth: 28,
    lineStyle: { width: 3, type: dashed ? "dashed" : "solid", color },
    itemStyle: { color },
    ...extra,
  };
}

const days = (value) => (value === null ? null : Math.round(value * 10) / 10);

function emptyOr(groups, build) {
  return groups.length ? build() : empty(t("dashboard.noData"));
}

/** A panel of groups: its chart (or "no data") over a foot with the total n and the suppressed groups. */
function drawGroups(groups, view) {
  return { body: emptyOr(groups, () => view.chart(groups, view)), foot: footOf(groups, view.n, view.foot) };
}

// --- charts ------------------------------------------------------------------------------------

function rateChart(groups, { grouping, title, n }, { color, fullScale = true }) {
  return chart(
    {
      legend: { show: false },
      xAxis: axisWithN(groups, n),
      yAxis: valueAxis({ min: 0, max: fullScale ? 1 : undefined, axisLabel: { formatter: (v) => pct(v, 0) } }),
      tooltip: groupTooltip(groups, (g) => [
        [title, pct(g.rate)],
        [t("dashboard.hitsOfN"), `${int(g.hits)} / ${int(g.n)}`],
        [t("dashboard.people"), int(g.people)],
      ]),
      series: [
        groupSeries(groups, grouping, {
          name: title,
          value: (g) => g.rate,
          color,
          barMaxWidth: 36,
          areaStyle: TIME_GROUPINGS.has(grouping) ? { opacity: 0.08 } : undefined,
          label: { show: groups.length <= 14, position: "top", formatter: ({ value }) => pct(value, 0), color: "#4a5568" },
        }),
      ],
    },
    { label: title },
  );
}

const CAUSE_COLORS = { rd: COLORS.red, sales_overpromise: COLORS.amber, customer_change: COLORS.teal, external: "#7c5cc4" };

function lateByCauseChart(groups, { title, n }) {
  const causes = new Map();
  for (const g of groups) {
    for (const cause of g.causes || []) causes.set(cause.cause, cause);
  }
  const series = [...causes.values()].map((cause) => ({
    name: label(cause),
    type: "bar",
    stack: "late",
    barMaxWidth: 36,
    itemStyle: CAUSE_COLORS[cause.cause] ? { color: CAUSE_COLORS[cause.cause] } : undefined,
    emphasis: { focus: "series" },
    data: groups.map((g) => {
      if (g.suppressed) return null;
      const found = (g.causes || []).find((c) => c.cause === cause.cause);
      return found ? found.count : 0;
    }),
  }));
  return chart(
    {
      legend: { top: 0, type: "scroll" },
      grid: { top: 44 },
      xAxis: axisWithN(groups, n),
      yAxis: valueAxis({ minInterval: 1 }),
      tooltip: groupTooltip(groups, (g) => [
        ...(g.causes || []).map((c) => [label(c), `${int(c.count)} (${pct(g.late ? c.count / g.late : null, 0)})`]),
        [t("dashboard.lateItems"), int(g.late)],
        [t("dashboard.people"), int(g.people)],
      ]),
      series,
    },
    { label: title },
  );
}

function signalText(signal) {
  const [rule, side] = signal.split(":");
  return `${t(`signal.${rule}`)} (${t(`signal.${side}`)})`;
}

function signalsNote(points) {
  const signals = points.filter((p) => p.signals.length && !p.suppressed);
  if (!signals.length) return t("dashboard.noSignals");
  return t("dashboard.signals", {
    list: signals.map((p) => `${label(p.group)}: ${p.signals.map(signalText).join(", ")}`).join("; "),
  });
}

function pChart(complaints, { title, n }) {
  const points = complaints.points;
  const limit = (name, key) => ({
    name,
    type: "line",
    step: "middle",
    symbol: "none",
    data: points.map((p) => (p.suppressed ? null : p[key])),
    lineStyle: { type: "dashed", color: COLORS.red, width: 1.5 },
    itemStyle: { color: COLORS.red },
  });
  return chart(
    {
      legend: { top: 0 },
      xAxis: axisWithN(points, n),
      yAxis: valueAxis({ min: 0, axisLabel: { formatter: (v) => pct(v, 0) } }),
      tooltip: groupTooltip(points, (p) => [
        [t("dashboard.complaintRate"), pct(p.rate)],
        [t("dashboard.complaintsOfDelivered"), `${int(p.complaints)} / ${int(p.delivered)}`],
        [t("dashboard.limits"), `${pct(p.lower)} – ${pct(p.upper)}`],
        [t("dashboard.people"), int(p.people)],
        ...p.signals.map((signal) => [t("dashboard.signal"), signalText(signal)]),
      ]),
      series: [
        {
          name: t("dashboard.complaintRate"),
          type: "line",
          data: points.map((p) => (p.suppressed ? null : p.rate)),
          symbolSize: 7,
          lineStyle: { width: 3, color: COLORS.brand },
          itemStyle: { color: COLORS.brand },
          markLine:
            complaints.center === null
              ? undefined
              : {
                  symbol: "none",
                  silent: true,
                  label: { formatter: `${t("dashboard.center")} ${pct(complaints.center)}`, position: "insideEndTop" },
                  lineStyle: { color: COLORS.grey, type: "solid" },
                  data: [{ yAxis: complaints.center }],
                },
        },
        limit(t("dashboard.upper"), "upper"),
        limit(t("dashboard.lower"), "lower"),
        {
          name: t("dashboard.signal"),
          type: "scatter",
          symbolSize: 14,
          itemStyle: { color: COLORS.red },
          data: points.map((p) => (p.signals.length && !p.suppressed ? p.rate : null)),
          tooltip: { show: false },
        },
      ],
    },
    { label: title },
  );
}

function cycleChart(groups, { grouping, title, n }) {
  return chart(
    {
      legend: { top: 0 },
      xAxis: axisWithN(groups, n),
      yAxis: valueAxis({ name: t("dashboard.days"), min: 0 }),
      tooltip: groupTooltip(groups, (g) => [
        [t("dashboard.median"), `${num(g.median)} ${t("dashboard.daysShort")}`],
        ["P80", `${num(g.p80)} ${t("dashboard.daysShort")}`],
        [t("dashboard.deliveredItems"), int(g.n)],
        [t("dashboard.people"), int(g.people)],
      ]),
      series: [
        groupSeries(groups, grouping, { name: t("dashboard.median"), value: (g) => days(g.median), color: COLORS.brand }),
        groupSeries(groups, grouping, { name: "P80", value: (g) => days(g.p80), color: COLORS.teal, dashed: true }),
      ],
    },
    { label: title },
  );
}

function distributionChart(groups, { title, n }) {
  return chart(
    {
      legend: { show: false },
      xAxis: axisWithN(groups, n),
      yAxis: valueAxis({ name: t("profile.points"), min: 0, max: 120 }),
      tooltip: groupTooltip(
        groups,
        (g) => [
          [t("dashboard.max"), num(g.max)],
          ["Q3", num(g.q3)],
          [t("dashboard.median"), num(g.median)],
          ["Q1", num(g.q1)],
          [t("dashboard.min"), num(g.min)],
          [t("dashboard.mean"), num(g.mean)],
          [t("dashboard.scorecards"), int(g.n)],
        ],
        "item",
      ),
      series: [
        {
          name: t("dashboard.scorecards"),
          type: "boxplot",
          itemStyle: { color: "#e9effd", borderColor: COLORS.brand },
          data: groups.map((g) => (g.suppressed || g.median === null ? [] : [g.min, g.q1, g.median, g.q3, g.max])),
        },
        {
          name: t("dashboard.mean"),
          type: "scatter",
          symbol: "diamond",
          symbolSize: 9,
          itemStyle: { color: COLORS.amber },
          data: groups.map((g) => (g.suppressed ? null : g.mean)),
          tooltip: { show: false },
        },
      ],
    },
    { label: title },
  );
}

function heatmapChart(cells, title) {
  const levelKeys = [];
  const levelLabels = new Map();
  for (const cell of cells) {
    if (!levelLabels.has(cell.level.key)) {
      levelKeys.push(cell.level.key);
      levelLabels.set(cell.level.key, label(cell.level));
    }
  }
  const ranks = new Map(levels().map((l) => [l.code, l.rank]));
  levelKeys.sort((a, b) => (ranks.get(a) ?? 99) - (ranks.get(b) ?? 99));
  const skills = [];
  const skillIndex = new Map();
  for (const cell of cells) {
    if (!skillIndex.has(cell.skillId)) {
      skillIndex.set(cell.skillId, skills.length);
      skills.push(pair(cell.skillNameEn, cell.skillNameZh));
    }
  }
  const max = Math.max(1, ...cells.filter((c) => !c.suppressed).map((c) => c.headCount || 0));
  const data = cells.map((cell) => ({
    value: [levelKeys.indexOf(cell.level.key), skillIndex.get(cell.skillId), cell.suppressed ? "-" : cell.headCount || 0],
    cell,
  }));
  return chart(
    {
      legend: { show: false },
      grid: { top: 8, left: 8, right: 8, bottom: 48, containLabel: true },
      xAxis: { type: "category", data: levelKeys.map((key) => levelLabels.get(key)), splitArea: { show: true } },
      yAxis: { type: "category", data: skills, splitArea: { show: true }, axisLabel: { width: 150, overflow: "truncate" } },
      visualMap: {
        min: 0,
        max,
        calculable: false,
        orient: "horizontal",
        left: "center",
        bottom: 0,
        itemHeight: 120,
        text: [t("dashboard.morePeople"), "0"],
        inRange: { color: ["#f1f5fd", "#9db4ee", "#2f5bd3"] },
      },
      tooltip: {
        trigger: "item",
        formatter: (item) => {
          const cell = item.data.cell;
          const head = `${pair(cell.skillNameEn, cell.skillNameZh)} · ${label(cell.level)}`;
          if (cell.suppressed) return suppressedTooltip(head);
          return tooltipLines(head, [
            [t("dashboard.headCount"), int(cell.headCount)],
            [t("dashboard.meanLevel"), `${num(cell.meanLevel, 1)} / 5`],
          ]);
        },
      },
      series: [
        {
          name: t("dashboard.headCount"),
          type: "heatmap",
          data,
          label: {
            show: true,
            formatter: (item) => (item.data.cell.suppressed ? `<${minGroupSize()}` : String(item.data.cell.headCount ?? 0)),
            fontSize: 11,
          },
        },
      ],
    },
    { height: Math.max(260, skills.length * 22 + 90), label: title },
  );
}

function funnelView(funnel) {
  if (funnel.suppressed) {
    return notice("warn", suppressedLabel(minGroupSize()));
  }
  const share = (part, whole) => (whole ? pct(part / whole, 0) : "–");
  return h(
    "div.kpis#funnel",
    kpi(t("funnel.requested"), int(funnel.requested), t("dashboard.peopleN", { n: int(funnel.people) })),
    kpi(
      t("funnel.answered24h"),
      int(funnel.answeredWithin24h),
      t("funnel.ofRequested", { share: share(funnel.answeredWithin24h, funnel.requested) }),
    ),
    kpi(t("funnel.promised"), int(funnel.promised), t("funnel.ofRequested", { share: share(funnel.promised, funnel.requested) })),
    kpi(
      t("funnel.deliveredOnTime"),
      int(funnel.deliveredOnTime),
      t("funnel.ofPromised", { share: share(funnel.deliveredOnTime, funnel.promised) }),
    ),
  );
}

function beforeAfterPanel(ctx, filter, title) {
  const state = ctx.state;
  state.changeOn ??= middle(filter.startsOn, filter.endsOn);
  state.windowDays ??= 90;
  const result = h("div");
  const draw = () => {
    result.replaceChildren(
      lazy(async () => {
        const data = await ctx.query(BEFORE_AFTER, {
          filter,
          changeOn: state.changeOn,
          windowDays: Number(state.windowDays),
        });
        const ba = data.rdDashboard.beforeAfter;
        return beforeAfterView(ba);
      }),
    );
  };
  const changeOn = h("input", {
    type: "date",
    id: "change-on",
    value: state.changeOn,
    on: {
      change: (event) => {
        if (!event.target.value) return;
        state.changeOn = event.target.value;
        draw();
      },
    },
  });
  const windowDays = select(
    [30, 60, 90, 180].map((days) => [days, t("dashboard.windowDays", { n: days })]),
    state.windowDays,
    {
      id: "window-days",
      on: {
        change: (event) => {
          state.windowDays = Number(event.target.value);
          draw();
        },
      },
    },
  );
  draw();
  return card({
    id: "panel-before-after",
    title,
    hint: t("dashboard.beforeAfterHint"),
    cls: "span-12",
    actions: h("div.row", field(t("dashboard.changeOn"), changeOn), field(t("dashboard.window"), windowDays)),
    body: result,
  });
}

function beforeAfterView(ba) {
  if (ba.suppressed) return notice("warn", suppressedLabel(minGroupSize()));
  const side = (name, s, from, to) =>
    h(
      "div.kpi",
      h("div.kpi-label", `${name} · ${date(from)} – ${date(to)}`),
      h("div.kpi-value", s.median === null ? "–" : `${num(s.median)} ${t("dashboard.daysShort")}`),
      h("div.kpi-sub", `${t("dashboard.median")} · P80 ${num(s.p80)} ${t("dashboard.daysShort")}`),
      h("div.kpi-sub", nBadge(s.n), " ", t("dashboard.peopleN", { n: int(s.people) })),
    );
  const beforeFrom = addDays(ba.changeOn, -ba.windowDays);
  const afterTo = addDays(ba.changeOn, ba.windowDays - 1);
  const compare = chart(
    {
      legend: { top: 0 },
      xAxis: categoryAxis([t("dashboard.median"), "P80"]),
      yAxis: valueAxis({ name: t("dashboard.days"), min: 0 }),
      tooltip: { trigger: "axis" },
      series: [
        { name: t("dashboard.before"), type: "bar", barMaxWidth: 40, itemStyle: { color: COLORS.grey }, data: [ba.before.median, ba.before.p80] },
        { name: t("dashboard.after"), type: "bar", barMaxWidth: 40, itemStyle: { color: COLORS.brand }, data: [ba.after.median, ba.after.p80] },
      ],
    },
    { label: t("dashboard.beforeAfter") },
  );
  return h(
    "div.grid",
    h(
      "div.span-6.stack",
      h("div.kpis", side(t("dashboard.before"), ba.before, beforeFrom, addDays(ba.changeOn, -1)), side(t("dashboard.after"), ba.after, ba.changeOn, afterTo)),
      h(
        "dl.facts",
        h("div", h("dt", "Mann-Whitney U"), h("dd", num(ba.u, 1))),
        h("div", h("dt", t("dashboard.pValue")), h("dd", ba.pValue === null ? "–" : num(ba.pValue, 3))),
        h("div", h("dt", t("dashboard.effectSize")), h("dd", ba.effectSize === null ? "–" : num(ba.effectSize, 2))),
      ),
      h("p.note", pick(ba.note)),
    ),
    h("div.span-6", compare),
  );
}

function gainChart(styles, { title, n }) {
  return chart(
    {
      legend: { top: 0 },
      xAxis: axisWithN(styles, n),
      yAxis: [
        valueAxis({ name: "g", min: 0 }),
        valueAxis({ min: 0, max: 1, axisLabel: { formatter: (v) => pct(v, 0) }, splitLine: { show: false } }),
      ],
      tooltip: groupTooltip(styles, (s) => [
        [t("school.meanGain"), num(s.meanGain, 2)],
        [t("school.classes"), int(n(s))],
        [t("school.teachers"), int(s.teachers)],
        [t("school.excellentRate"), s.excellentRate === null ? "–" : `${pct(s.excellentRate)} (n = ${int(s.excellentN)})`],
      ]),
      series: [
        {
          name: t("school.meanGain"),
          type: "bar",
          barMaxWidth: 44,
          itemStyle: { color: COLORS.brand },
          label: { show: true, position: "top", formatter: ({ value }) => (value === null ? "" : `g = ${num(value, 2)}`) },
          data: styles.map((s) => (s.suppressed ? null : s.meanGain)),
        },
        {
          name: t("school.excellentRate"),
          type: "bar",
          yAxisIndex: 1,
          barMaxWidth: 44,
          itemStyle: { color: COLORS.teal },
          data: styles.map((s) => (s.suppressed ? null : s.excellentRate)),
        },
      ],
    },
    { label: title },
  );
}

function scatterChart(scatter, title) {
  const points = scatter.points;
  return chart(
    {
      legend: { show: false },
      grid: { top: 16, left: 40, right: 24, bottom: 28, containLabel: true }, // room for the y axis name
      xAxis: valueAxis({ name: t("school.rating"), nameLocation: "middle", nameGap: 28, scale: true }),
      yAxis: valueAxis({ name: t("school.parentSatisfaction"), nameLocation: "middle", nameGap: 36, scale: true }),
      tooltip: {
        trigger: "item",
        formatter: (item) => {
          const p = points[item.dataIndex];
          return tooltipLines(p.name || t("school.teacher"), [
            [t("school.rating"), num(p.rating, 2)],
            [t("school.parentSatisfaction"), num(p.parentSatisfaction, 2)],
            [t("school.responses"), int(p.responses)],
          ]);
        },
      },
      series: [
        {
          type: "scatter",
          name: t("school.teachers"),
          data: points.map((p) => [p.rating, p.parentSatisfaction, p.responses]),
          symbolSize: (value) => Math.max(8, Math.min(26, Math.sqrt(value[2]) * 2.2)),
          itemStyle: { color: COLORS.brand, opacity: 0.75 },
        },
      ],
    },
    { label: title },
  );
}

function slaChart(groups, { grouping, title, n }) {
  return chart(
    {
      legend: { top: 0 },
      xAxis: axisWithN(groups, n),
      yAxis: valueAxis({ min: 0, max: 1, axisLabel: { formatter: (v) => pct(v, 0) } }),
      tooltip: groupTooltip(groups, (g) => [
        [t("school.homework24h"), `${pct(g.homeworkRate)} (n = ${int(g.homeworkN)})`],
        [t("school.question1h"), `${pct(g.questionRate)} (n = ${int(g.questionN)})`],
        [t("dashboard.people"), int(g.people)],
      ]),
      series: [
        groupSeries(groups, grouping, { name: t("school.homework24h"), value: (g) => g.homeworkRate, color: COLORS.brand }),
        groupSeries(groups, grouping, { name: t("school.question1h"), value: (g) => g.questionRate, color: COLORS.teal }),
      ],
    },
    { label: title },
  );
}

function drawGain(all, view) {
  // Styles no class was taught in are left out; suppressed ones stay, marked.
  const styles = all.filter((s) => s.suppressed || view.n(s));
  return {
    body: [emptyOr(styles, () => gainChart(styles, view)), h("p.note", pick(view.data.note))],
    foot: footOf(styles, view.n, "school.classesN"),
  };
}

function drawScatter(scatter, { title }) {
  const minResponses = scatter.minResponses ?? 20;
  if (scatter.suppressed) return { body: notice("warn", suppressedLabel(minGroupSize())) };
  return {
    body: [
      h(
        "div.row",
        h("span.chip", `Spearman ρ = ${scatter.rho === null ? "–" : num(scatter.rho, 2)}`),
        h("span.chip", `p = ${scatter.pValue === null ? "–" : num(scatter.pValue, 3)}`),
        nBadge(scatter.n, "n.teachers"),
      ),
      scatter.points.length ? scatterChart(scatter, title) : empty(t("school.noScatter", { n: minResponses })),
      h("p.note", pick(scatter.note)),
    ],
    foot: t("school.hiddenTeachers", { count: int(scatter.hiddenTeachers ?? 0), n: minResponses }),
  };
}

// --- the panels --------------------------------------------------------------------------------
//
// A panel: `id` of its card; `field` of the dashboard it draws and its `select`ion (`also`:
// other fields it needs, with theirs); `title` (an i18n key, or the pack's name of the
// panel `code`) and `hint`; `wide` for a full-width card. It is drawn by `draw(value, view)`
// -> {body, foot}, or as groups: `chart(groups, view)` above a foot counting `n(group)`
// with the `foot` key. `view` holds the grouping, the title, `n` and the dashboard's data.

const RD_PANELS = [
  {
    id: "panel-funnel",
    field: "funnel",
    select: "{ requested answeredWithin24h promised deliveredOnTime people suppressed }",
    title: "funnel.title",
    hint: "funnel.hint",
    wide: true,
    draw: (funnel) => ({ body: funnelView(funnel) }),
  },
  {
    id: "panel-on-time",
    field: "onTime",
    select: `{ ${GROUP} hits n rate people suppressed }`,
    code: "on_time_share",
    title: "dashboard.onTime",
    hint: "dashboard.onTimeHint",
    chart: (groups, view) => rateChart(groups, view, { color: COLORS.teal }),
    n: (g) => g.n,
    foot: "dashboard.dueN",
  },
  {
    id: "panel-late-by-cause",
    field: "lateByCause",
    select: `{ ${GROUP} late causes { cause labelEn labelZh count } people suppressed }`,
    code: "late_by_cause",
    title: "dashboard.lateByCause",
    hint: "dashboard.lateHint",
    chart: lateByCauseChart,
    n: (g) => g.late,
    foot: "dashboard.lateN",
  },
  {
    id: "panel-complaints",
    field: "complaints",
    select: `{ center points { ${GROUP} complaints delivered rate lower upper signals people suppressed } }`,
    code: "complaints_p_chart",
    title: "dashboard.complaints",
    hint: "dashboard.complaintsHint",
    n: (p) => p.delivered,
    draw: (complaints, view) => ({
      body: emptyOr(complaints.points, () => pChart(complaints, view)),
      foot: h("span", footOf(complaints.points, view.n, "dashboard.deliveredN"), " · ", signalsNote(complaints.points)),
    }),
  },
  {
    id: "panel-cycle-time",
    field: "cycleTime",
    select: `{ ${GROUP} n median p80 people suppressed }`,
    code: "cycle_time_trend",
    title: "dashboard.cycleTime",
    hint: "dashboard.cycleHint",
    chart: cycleChart,
    n: (g) => g.n,
    foot: "dashboard.deliveredN",
  },
  {
    id: "panel-escaped-defects",
    field: "escapedDefects",
    select: `{ ${GROUP} hits n rate people suppressed }`,
    title: "dashboard.escapedDefects",
    hint: "dashboard.escapedHint",
    chart: (groups, view) => rateChart(groups, view, { color: COLORS.red, fullScale: false }),
    n: (g) => g.n,
    foot: "dashboard.defectsN",
  },
  {
    id: "panel-scorecards",
    field: "scorecardDistribution",
    select: `{ ${GROUP} n min q1 median q3 max mean people suppressed }`,
    title: "dashboard.scorecardDistribution",
    hint: "dashboard.scorecardHint",
    chart: distributionChart,
    n: (g) => g.n,
    foot: "dashboard.scorecardsN",
  },
  {
    id: "panel-capabilities",
    field: "capabilityHeatmap",
    select: "{ skillId skillNameEn skillNameZh level { key labelEn labelZh } headCount meanLevel suppressed }",
    title: "dashboard.capabilities",
    hint: "dashboard.capabilitiesHint",
    wide: true,
    draw: (cells, { title }) => ({
      body: emptyOr(cells, () => heatmapChart(cells, title)),
      foot:
        suppressedNote(
          cells.map((c) => ({
            suppressed: c.suppressed,
            group: { labelEn: `${c.skillNameEn} · ${c.level.labelEn}`, labelZh: `${c.skillNameZh} · ${c.level.labelZh}` },
          })),
        ) || t("suppressed.none"),
    }),
  },
];

const SCHOOL_PANELS = [
  {
    id: "panel-gain",
    field: "gainByStyle",
    select: "{ style labelEn labelZh classes teachers meanGain gainN excellentRate excellentN suppressed }",
    also: { note: "{ zh en }" },
    code: "gain_by_style",
    title: "school.gainByStyle",
    hint: "school.gainHint",
    n: (s) => s.gainN ?? s.classes,
    draw: drawGain,
  },
  {
    id: "panel-rating-parents",
    field: "ratingVsParents",
    select: `{
      rho pValue n hiddenTeachers minResponses suppressed note { zh en }
      points { employeeId name rating parentSatisfaction responses }
    }`,
    code: "rating_vs_parents",
    title: "school.ratingVsParents",
    hint: "school.scatterHint",
    draw: drawScatter,
  },
  {
    id: "panel-sla",
    field: "slaTrend",
    select: `{ ${GROUP} homeworkRate homeworkN questionRate questionN people suppressed }`,
    code: "sla_trend",
    title: "school.slaTrend",
    hint: "school.slaHint",
    wide: true,
    chart: slaChart,
    n: (g) => (g.homeworkN || 0) + (g.questionN || 0),
    foot: "school.slaN",
  },
];

const RD = { operation: "RdDashboard", root: "rdDashboard", panels: RD_PANELS };
const SCHOOL = { operation: "SchoolDashboard", root: "schoolDashboard", panels: SCHOOL_PANELS };

const selections = (panel) => ({ [panel.field]: panel.select, ...panel.also });
const fieldsOf = (panel) => Object.keys(selections(panel));

/** One document selecting every given panel's fields of the dashboard, for the filter. */
function panelsDocument(dashboard, panels) {
  const fields = panels.flatMap((panel) => Object.entries(selections(panel)).map(([name, select]) => `${name} ${select}`));
  return `query ${dashboard.operation}($filter: DashboardFilterInput!) {
  ${dashboard.root}(filter: $filter) {
    ${fields.join("\n    ")}
  }
}`;
}

/**
 * Every panel of the dashboard in one request: {data, errors}, `data` the dashboard's
 * fields, `errors` a Map from a failed field to its ApiError. An error whose path names no
 * panel's field (a refusal, a bad filter, a failed request) is thrown: every card shows it.
 */
async function readPanels(ctx, dashboard, filter) {
  const errors = new Map();
  let asked = dashboard.panels;
  while (asked.length) {
    const result = await ctx.queryPartial(panelsDocument(dashboard, asked), { filter });
    const failed = new Set();
    for (const error of result.errors) {
      const [root, name] = error.path || [];
      const panel = root === dashboard.root ? asked.find((candidate) => fieldsOf(candidate).includes(name)) : null;
      if (!panel) throw error;
      if (!errors.has(name)) errors.set(name, error);
      failed.add(panel);
    }
    const data = result.data && result.data[dashboard.root];
    if (data) return { data, errors };
    if (!failed.size) throw new ApiError(t("error.unknown"));
    // The panels' fields are non-null: a failed one's null reached the dashboard itself and
    // took the other panels' data with it. Ask again for the others only.
    asked = asked.filter((panel) => !failed.has(panel));
  }
  return { data: {}, errors };
}

/** `read()` once for every caller, read again only when the last reading failed somewhere. */
function shared(read, complete) {
  let reading = null;
  return () => {
    if (!reading) {
      const current = read();
      const forget = () => {
        if (reading === current) reading = null;
      };
      current.then((value) => complete(value) || forget(), forget);
      reading = current;
    }
    return reading;
  };
}

function titleOf(packPanels, panel) {
  const named = panel.code && packPanels.find((candidate) => candidate.code === panel.code);
  return named ? pick(named.name) : t(panel.title);
}

/** The cards of the dashboard's panels, each loading and failing on its own, all from one reading. */
function panelCards(ctx, dashboard, packPanels, filter) {
  const read = shared(
    () => readPanels(ctx, dashboard, filter),
    (reading) => reading.errors.size === 0,
  );
  return dashboard.panels.map((panel) => {
    const title = titleOf(packPanels, panel);
    return card({
      id: panel.id,
      title,
      hint: t(panel.hint),
      cls: `panel ${panel.wide ? "span-12" : "span-6"}`,
      load: async () => {
        const { data, errors } = await read();
        const failed = fieldsOf(panel).find((name) => errors.has(name));
        if (failed) throw errors.get(failed);
        const view = { grouping: filter.groupBy, title, n: panel.n, chart: panel.chart, foot: panel.foot, data };
        return (panel.draw || drawGroups)(data[panel.field], view);
      },
    });
  });
}

// --- filters and the page ----------------------------------------------------------------------

function filterInput(state) {
  const filter = { startsOn: state.startsOn, endsOn: state.endsOn, groupBy: state.groupBy };
  if (state.orgUnitId) filter.orgUnitId = state.orgUnitId;
  if (state.level) filter.level = state.level;
  if (state.skillId) filter.skillId = state.skillId;
  if (state.customer) filter.customer = state.customer;
  return filter;
}

async function filterBar(ctx, school) {
  const state = ctx.state;
  const [units, skills] = await Promise.all([allUnits(ctx), school ? [] : allSkills(ctx)]);
  const apply = () => ctx.refresh();
  const on = (key, parse = (v) => v) => ({
    change: (event) => {
      state[key] = parse(event.target.value);
      if (key === "startsOn" || key === "endsOn") state.preset = "custom";
      apply();
    },
  });
  const preset = select(
    [
      ["6m", t("dashboard.preset.6m")],
      ["12m", t("dashboard.preset.12m")],
      ["24m", t("dashboard.preset.24m")],
      ["ytd", t("dashboard.preset.ytd")],
      ["custom", t("dashboard.preset.custom")],
    ],
    state.preset,
    {
      id: "filter-preset",
      on: {
        change: (event) => {
          state.preset = event.target.value;
          if (state.preset !== "custom") Object.assign(state, presetRange(state.preset));
          apply();
        },
      },
    },
  );
  const controls = [
    field(t("dashboard.period"), preset),
    field(t("dashboard.from"), h("input", { type: "date", id: "filter-from", value: state.startsOn, max: state.endsOn, on: on("startsOn") })),
    field(t("dashboard.to"), h("input", { type: "date", id: "filter-to", value: state.endsOn, min: state.startsOn, on: on("endsOn") })),
    field(
      t("dashboard.groupBy"),
      select(
        ["MONTH", "QUARTER", "ORG_UNIT", "LEVEL"].map((g) => [g, t(`grouping.${g}`)]),
        state.groupBy,
        { id: "filter-group-by", on: on("groupBy") },
      ),
    ),
    field(t("dashboard.unit"), select([["", t("common.all")], ...unitOptions(units)], state.orgUnitId, { id: "filter-unit", on: on("orgUnitId") })),
    field(
      t("people.level"),
      select([["", t("common.all")], ...levels().map((l) => [l.code, pick(l.name)])], state.level, { id: "filter-level", on: on("level") }),
    ),
  ];
  if (!school) {
    controls.push(
      field(
        t("matching.skill"),
        select(
          [["", t("common.all")], ...skills.map((s) => [s.id, pick(s.label) || s.name]).sort((a, b) => a[1].localeCompare(b[1]))],
          state.skillId,
          { id: "filter-skill", on: on("skillId") },
        ),
      ),
      field(
        t("dashboard.customer"),
        h("input", {
          type: "search",
          id: "filter-customer",
          value: state.customer,
          placeholder: t("dashboard.customerHint"),
          on: on("customer", (v) => v.trim()),
        }),
      ),
    );
  }
  return h("section.card", { "aria-label": t("dashboard.filters") }, h("div.filters", controls));
}

async function render(ctx) {
  const state = ctx.state;
  const school = isSchool();
  if (!state.startsOn) {
    state.preset = "12m";
    Object.assign(state, presetRange("12m"));
    state.groupBy = "MONTH";
    state.orgUnitId = "";
    state.level = "";
    state.skillId = "";
    state.customer = "";
  }
  const filter = filterInput(state);
  const [bar, panelsData] = await Promise.all([filterBar(ctx, school), ctx.query(PANELS)]);
  const packPanels = panelsData.templatePack.dashboardPanels;
  return h(
    "div.stack",
    { dataset: { dashboard: school ? "school" : "rd" } },
    pageHeader(
      t(school ? "dashboard.schoolTitle" : "dashboard.rdTitle"),
      t("dashboard.subtitle", { from: date(filter.startsOn), to: date(filter.endsOn), n: minGroupSize() }),
    ),
    bar,
    h(
      "div.grid#dashboard-panels",
      panelCards(ctx, school ? SCHOOL : RD, packPanels, filter),
      school ? null : beforeAfterPanel(ctx, filter, titleOf(packPanels, { code: "before_after", title: "dashboard.beforeAfter" })),
    ),
    h("p.note", t("dashboard.association")),
  );
}

export default { render };
