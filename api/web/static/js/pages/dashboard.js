// The dashboard of the tenant's pack: R&D (on-time delivery, delays by cause, complaints
// with control limits, cycle time, escaped defects, scorecards, capabilities, the request
// funnel, before/after a change) or school (gain by teaching style, rating vs parents,
// homework and question SLAs). Every figure shows its n; groups resting on too few people
// are shown as suppressed ("fewer than N people"), never as zero.

import { isSchool, levels, minGroupSize } from "../app.js";
import { categoryAxis, chart, COLORS, esc, valueAxis } from "../charts.js";
import { h } from "../dom.js";
import { date, int, num, pair, pct, pick, t } from "../i18n.js";
import { allSkills, allUnits, unitOptions } from "../lookups.js";
import { card, empty, field, kpi, lazy, nBadge, notice, pageHeader, select, suppressedLabel } from "../views.js";

const GROUP = "group { key labelEn labelZh startsOn }";
// One request per panel: each card loads, and fails, on its own.
const RD_FIELDS = {
  funnel: "funnel { requested answeredWithin24h promised deliveredOnTime people suppressed }",
  onTime: `onTime { ${GROUP} hits n rate people suppressed }`,
  lateByCause: `lateByCause { ${GROUP} late causes { cause labelEn labelZh count } people suppressed }`,
  complaints: `complaints { center points { ${GROUP} complaints delivered rate lower upper signals people suppressed } }`,
  cycleTime: `cycleTime { ${GROUP} n median p80 people suppressed }`,
  escapedDefects: `escapedDefects { ${GROUP} hits n rate people suppressed }`,
  scorecardDistribution: `scorecardDistribution { ${GROUP} n min q1 median q3 max mean people suppressed }`,
  capabilityHeatmap:
    "capabilityHeatmap { skillId skillNameEn skillNameZh level { key labelEn labelZh } headCount meanLevel suppressed }",
};
const SCHOOL_FIELDS = {
  gainByStyle:
    "note { zh en } gainByStyle { style labelEn labelZh classes teachers meanGain gainN excellentRate excellentN suppressed }",
  ratingVsParents: `ratingVsParents {
    rho pValue n hiddenTeachers minResponses suppressed note { zh en }
    points { employeeId name rating parentSatisfaction responses }
  }`,
  slaTrend: `slaTrend { ${GROUP} homeworkRate homeworkN questionRate questionN people suppressed }`,
};
const rdQuery = (name) =>
  `query RdPanel($filter: DashboardFilterInput!) { rdDashboard(filter: $filter) { ${RD_FIELDS[name]} } }`;
const schoolQuery = (name) =>
  `query SchoolPanel($filter: DashboardFilterInput!) { schoolDashboard(filter: $filter) { ${SCHOOL_FIELDS[name]} } }`;
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

/** Axis labels with n underneath: "2026-03\nn = 41", or the suppressed note. */
function axisWithN(groups, nOf) {
  const minPeople = minGroupSize();
  return categoryAxis(
    groups.map((g) => label(g.group || g)),
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
    hidden.length <= 6 ? `(${hidden.map((g) => label(g.group || g)).join(", ")})` : "",
  );
}

function footOf(groups, nOf, key = "dashboard.totalN") {
  const total = groups.filter((g) => !g.suppressed).reduce((sum, g) => sum + (nOf(g) || 0), 0);
  return h("span", t(key, { n: int(total) }), " · ", suppressedNote(groups) || t("suppressed.none"));
}

function tooltipLines(title, rows) {
  return [`<strong>${esc(title)}</strong>`, ...rows.map(([name, value]) => `${esc(name)}: <strong>${esc(value)}</strong>`)].join("<br>");
}

function suppressedTooltip(group) {
  return `<strong>${esc(label(group.group || group))}</strong><br>${esc(t("suppressed.fewer", { n: minGroupSize() }))}`;
}

function panelTitle(panels, code, fallbackKey) {
  const panel = panels.find((candidate) => candidate.code === code);
  return panel ? pick(panel.name) : t(fallbackKey);
}

function emptyOr(groups, build) {
  return groups.length ? build() : empty(t("dashboard.noData"));
}

// --- R&D panels --------------------------------------------------------------------------------

function rateChart(groups, grouping, { name, color, title, fullScale = true }) {
  const time = TIME_GROUPINGS.has(grouping);
  return chart(
    {
      legend: { show: false },
      xAxis: axisWithN(groups, (g) => g.n),
      yAxis: valueAxis({ min: 0, max: fullScale ? 1 : undefined, axisLabel: { formatter: (v) => pct(v, 0) } }),
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const g = groups[items[0].dataIndex];
          if (g.suppressed) return suppressedTooltip(g);
          return tooltipLines(label(g.group), [
            [name, pct(g.rate)],
            [t("dashboard.hitsOfN"), `${int(g.hits)} / ${int(g.n)}`],
            [t("dashboard.people"), int(g.people)],
          ]);
        },
      },
      series: [
        {
          name,
          type: time ? "line" : "bar",
          data: groups.map((g) => (g.suppressed ? null : g.rate)),
          connectNulls: false,
          smooth: false,
          symbolSize: 7,
          barMaxWidth: 36,
          itemStyle: { color },
          lineStyle: { width: 3 },
          areaStyle: time ? { opacity: 0.08 } : undefined,
          label: { show: groups.length <= 14, position: "top", formatter: ({ value }) => pct(value, 0), color: "#4a5568" },
        },
      ],
    },
    { label: title },
  );
}

function lateByCauseChart(groups, title) {
  const causes = new Map();
  for (const g of groups) {
    for (const cause of g.causes || []) causes.set(cause.cause, cause);
  }
  const causeColors = { rd: COLORS.red, sales_overpromise: COLORS.amber, customer_change: COLORS.teal, external: "#7c5cc4" };
  const series = [...causes.values()].map((cause) => ({
    name: pair(cause.labelEn, cause.labelZh),
    type: "bar",
    stack: "late",
    barMaxWidth: 36,
    itemStyle: causeColors[cause.cause] ? { color: causeColors[cause.cause] } : undefined,
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
      xAxis: axisWithN(groups, (g) => g.late),
      yAxis: valueAxis({ minInterval: 1 }),
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const g = groups[items[0].dataIndex];
          if (g.suppressed) return suppressedTooltip(g);
          const rows = (g.causes || []).map((c) => [
            pair(c.labelEn, c.labelZh),
            `${int(c.count)} (${pct(g.late ? c.count / g.late : null, 0)})`,
          ]);
          rows.push([t("dashboard.lateItems"), int(g.late)], [t("dashboard.people"), int(g.people)]);
          return tooltipLines(label(g.group), rows);
        },
      },
      series,
    },
    { label: title },
  );
}

function signalText(signal) {
  const [rule, side] = signal.split(":");
  return `${t(`signal.${rule}`)} (${t(`signal.${side}`)})`;
}

function pChart(complaints, title) {
  const points = complaints.points;
  const rate = points.map((p) => (p.suppressed ? null : p.rate));
  return chart(
    {
      legend: { top: 0 },
      xAxis: axisWithN(points, (p) => p.delivered),
      yAxis: valueAxis({ min: 0, axisLabel: { formatter: (v) => pct(v, 0) } }),
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const p = points[items[0].dataIndex];
          if (p.suppressed) return suppressedTooltip(p);
          const rows = [
            [t("dashboard.complaintRate"), pct(p.rate)],
            [t("dashboard.complaintsOfDelivered"), `${int(p.complaints)} / ${int(p.delivered)}`],
            [t("dashboard.limits"), `${pct(p.lower)} – ${pct(p.upper)}`],
            [t("dashboard.people"), int(p.people)],
          ];
          for (const signal of p.signals) rows.push([t("dashboard.signal"), signalText(signal)]);
          return tooltipLines(label(p.group), rows);
        },
      },
      series: [
        {
          name: t("dashboard.complaintRate"),
          type: "line",
          data: rate,
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
        {
          name: t("dashboard.upper"),
          type: "line",
          step: "middle",
          symbol: "none",
          data: points.map((p) => (p.suppressed ? null : p.upper)),
          lineStyle: { type: "dashed", color: COLORS.red, width: 1.5 },
          itemStyle: { color: COLORS.red },
        },
        {
          name: t("dashboard.lower"),
          type: "line",
          step: "middle",
          symbol: "none",
          data: points.map((p) => (p.suppressed ? null : p.lower)),
          lineStyle: { type: "dashed", color: COLORS.red, width: 1.5 },
          itemStyle: { color: COLORS.red },
        },
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

function cycleChart(groups, grouping, title) {
  const time = TIME_GROUPINGS.has(grouping);
  const series = (name, key, color, dashed) => ({
    name,
    type: time ? "line" : "bar",
    data: groups.map((g) => (g.suppressed || g[key] === null ? null : Math.round(g[key] * 10) / 10)),
    symbolSize: 7,
    barMaxWidth: 28,
    lineStyle: { width: 3, type: dashed ? "dashed" : "solid", color },
    itemStyle: { color },
  });
  return chart(
    {
      legend: { top: 0 },
      xAxis: axisWithN(groups, (g) => g.n),
      yAxis: valueAxis({ name: t("dashboard.days"), min: 0 }),
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const g = groups[items[0].dataIndex];
          if (g.suppressed) return suppressedTooltip(g);
          return tooltipLines(label(g.group), [
            [t("dashboard.median"), `${num(g.median)} ${t("dashboard.daysShort")}`],
            ["P80", `${num(g.p80)} ${t("dashboard.daysShort")}`],
            [t("dashboard.deliveredItems"), int(g.n)],
            [t("dashboard.people"), int(g.people)],
          ]);
        },
      },
      series: [series(t("dashboard.median"), "median", COLORS.brand, false), series("P80", "p80", COLORS.teal, true)],
    },
    { label: title },
  );
}

function distributionChart(groups, title) {
  return chart(
    {
      legend: { show: false },
      xAxis: axisWithN(groups, (g) => g.n),
      yAxis: valueAxis({ name: t("profile.points"), min: 0, max: 120 }),
      tooltip: {
        trigger: "item",
        formatter: (item) => {
          const g = groups[item.dataIndex];
          if (g.suppressed) return suppressedTooltip(g);
          return tooltipLines(label(g.group), [
            [t("dashboard.max"), num(g.max)],
            ["Q3", num(g.q3)],
            [t("dashboard.median"), num(g.median)],
            ["Q1", num(g.q1)],
            [t("dashboard.min"), num(g.min)],
            [t("dashboard.mean"), num(g.mean)],
            [t("dashboard.scorecards"), int(g.n)],
          ]);
        },
      },
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
          if (cell.suppressed) return `<strong>${esc(head)}</strong><br>${esc(t("suppressed.fewer", { n: minGroupSize() }))}`;
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

/**
 * A dashboard card whose content loads on its own: `build(data)` returns the body and,
 * optionally, a footer ({body, foot}).
 */
function panel(ctx, { id, title, hint, cls = "span-6", actions, load }) {
  const content = lazy(async () => {
    const { body, foot } = await load();
    return [h("div.card-body", body), foot ? h("div.card-foot", foot) : null];
  });
  return h(
    "section.card.panel",
    { id, class: cls, "aria-label": title },
    h("div.card-head", h("div", h("h2", title), hint ? h("div.hint", hint) : null), actions || null),
    content,
  );
}

function rdPanels(ctx, panels, filter) {
  const grouping = filter.groupBy;
  const get = async (name) => (await ctx.query(rdQuery(name), { filter })).rdDashboard[name];
  const onTimeTitle = panelTitle(panels, "on_time_share", "dashboard.onTime");
  const lateTitle = panelTitle(panels, "late_by_cause", "dashboard.lateByCause");
  const complaintsTitle = panelTitle(panels, "complaints_p_chart", "dashboard.complaints");
  const cycleTitle = panelTitle(panels, "cycle_time_trend", "dashboard.cycleTime");
  const escapedTitle = t("dashboard.escapedDefects");
  const distributionTitle = t("dashboard.scorecardDistribution");
  const capabilitiesTitle = t("dashboard.capabilities");
  return h(
    "div.grid#dashboard-panels",
    panel(ctx, {
      id: "panel-funnel",
      title: t("funnel.title"),
      hint: t("funnel.hint"),
      cls: "span-12",
      load: async () => ({ body: funnelView(await get("funnel")) }),
    }),
    panel(ctx, {
      id: "panel-on-time",
      title: onTimeTitle,
      hint: t("dashboard.onTimeHint"),
      load: async () => {
        const groups = await get("onTime");
        return {
          body: emptyOr(groups, () => rateChart(groups, grouping, { name: onTimeTitle, color: COLORS.teal, title: onTimeTitle })),
          foot: footOf(groups, (g) => g.n, "dashboard.dueN"),
        };
      },
    }),
    panel(ctx, {
      id: "panel-late-by-cause",
      title: lateTitle,
      hint: t("dashboard.lateHint"),
      load: async () => {
        const groups = await get("lateByCause");
        return {
          body: emptyOr(groups, () => lateByCauseChart(groups, lateTitle)),
          foot: footOf(groups, (g) => g.late, "dashboard.lateN"),
        };
      },
    }),
    panel(ctx, {
      id: "panel-complaints",
      title: complaintsTitle,
      hint: t("dashboard.complaintsHint"),
      load: async () => {
        const complaints = await get("complaints");
        const signals = complaints.points.filter((p) => p.signals.length && !p.suppressed);
        return {
          body: emptyOr(complaints.points, () => pChart(complaints, complaintsTitle)),
          foot: h(
            "span",
            footOf(complaints.points, (p) => p.delivered, "dashboard.deliveredN"),
            " · ",
            signals.length
              ? t("dashboard.signals", {
                  list: signals.map((p) => `${label(p.group)}: ${p.signals.map(signalText).join(", ")}`).join("; "),
                })
              : t("dashboard.noSignals"),
          ),
        };
      },
    }),
    panel(ctx, {
      id: "panel-cycle-time",
      title: cycleTitle,
      hint: t("dashboard.cycleHint"),
      load: async () => {
        const groups = await get("cycleTime");
        return {
          body: emptyOr(groups, () => cycleChart(groups, grouping, cycleTitle)),
          foot: footOf(groups, (g) => g.n, "dashboard.deliveredN"),
        };
      },
    }),
    panel(ctx, {
      id: "panel-escaped-defects",
      title: escapedTitle,
      hint: t("dashboard.escapedHint"),
      load: async () => {
        const groups = await get("escapedDefects");
        return {
          body: emptyOr(groups, () => rateChart(groups, grouping, { name: escapedTitle, color: COLORS.red, title: escapedTitle, fullScale: false })),
          foot: footOf(groups, (g) => g.n, "dashboard.defectsN"),
        };
      },
    }),
    panel(ctx, {
      id: "panel-scorecards",
      title: distributionTitle,
      hint: t("dashboard.scorecardHint"),
      load: async () => {
        const groups = await get("scorecardDistribution");
        return {
          body: emptyOr(groups, () => distributionChart(groups, distributionTitle)),
          foot: footOf(groups, (g) => g.n, "dashboard.scorecardsN"),
        };
      },
    }),
    panel(ctx, {
      id: "panel-capabilities",
      title: capabilitiesTitle,
      hint: t("dashboard.capabilitiesHint"),
      cls: "span-12",
      load: async () => {
        const cells = await get("capabilityHeatmap");
        const named = cells.map((c) => ({
          ...c,
          group: { labelEn: `${c.skillNameEn} · ${c.level.labelEn}`, labelZh: `${c.skillNameZh} · ${c.level.labelZh}` },
        }));
        return {
          body: emptyOr(cells, () => heatmapChart(cells, capabilitiesTitle)),
          foot: suppressedNote(named) || t("suppressed.none"),
        };
      },
    }),
    beforeAfterPanel(ctx, filter, panelTitle(panels, "before_after", "dashboard.beforeAfter")),
  );
}

// --- school panels -----------------------------------------------------------------------------

function gainChart(styles, title) {
  const styleLabel = (s) => pair(s.labelEn, s.labelZh);
  return chart(
    {
      legend: { top: 0 },
      xAxis: axisWithN(
        styles.map((s) => ({ ...s, group: { labelEn: s.labelEn, labelZh: s.labelZh } })),
        (s) => s.gainN ?? s.classes,
      ),
      yAxis: [
        valueAxis({ name: "g", min: 0 }),
        valueAxis({ min: 0, max: 1, axisLabel: { formatter: (v) => pct(v, 0) }, splitLine: { show: false } }),
      ],
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const s = styles[items[0].dataIndex];
          if (s.suppressed) return `<strong>${esc(styleLabel(s))}</strong><br>${esc(t("suppressed.fewer", { n: minGroupSize() }))}`;
          return tooltipLines(styleLabel(s), [
            [t("school.meanGain"), num(s.meanGain, 2)],
            [t("school.classes"), int(s.gainN ?? s.classes)],
            [t("school.teachers"), int(s.teachers)],
            [t("school.excellentRate"), s.excellentRate === null ? "–" : `${pct(s.excellentRate)} (n = ${int(s.excellentN)})`],
          ]);
        },
      },
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
      grid: { top: 16, left: 16, right: 24, bottom: 28, containLabel: true },
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

function slaChart(groups, grouping, title) {
  const time = TIME_GROUPINGS.has(grouping);
  const series = (name, key, color) => ({
    name,
    type: time ? "line" : "bar",
    data: groups.map((g) => (g.suppressed ? null : g[key])),
    symbolSize: 7,
    barMaxWidth: 28,
    lineStyle: { width: 3, color },
    itemStyle: { color },
  });
  return chart(
    {
      legend: { top: 0 },
      xAxis: axisWithN(groups, (g) => (g.homeworkN || 0) + (g.questionN || 0)),
      yAxis: valueAxis({ min: 0, max: 1, axisLabel: { formatter: (v) => pct(v, 0) } }),
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const g = groups[items[0].dataIndex];
          if (g.suppressed) return suppressedTooltip(g);
          return tooltipLines(label(g.group), [
            [t("school.homework24h"), `${pct(g.homeworkRate)} (n = ${int(g.homeworkN)})`],
            [t("school.question1h"), `${pct(g.questionRate)} (n = ${int(g.questionN)})`],
            [t("dashboard.people"), int(g.people)],
          ]);
        },
      },
      series: [series(t("school.homework24h"), "homeworkRate", COLORS.brand), series(t("school.question1h"), "questionRate", COLORS.teal)],
    },
    { label: title },
  );
}

function schoolPanels(ctx, panels, filter) {
  const get = async (name) => (await ctx.query(schoolQuery(name), { filter })).schoolDashboard;
  const gainTitle = panelTitle(panels, "gain_by_style", "school.gainByStyle");
  const scatterTitle = panelTitle(panels, "rating_vs_parents", "school.ratingVsParents");
  const slaTitle = panelTitle(panels, "sla_trend", "school.slaTrend");
  return h(
    "div.grid#dashboard-panels",
    panel(ctx, {
      id: "panel-gain",
      title: gainTitle,
      hint: t("school.gainHint"),
      load: async () => {
        const d = await get("gainByStyle");
        // Styles no class was taught in are left out; suppressed ones stay, marked.
        const styles = d.gainByStyle.filter((s) => s.suppressed || (s.gainN ?? s.classes));
        const classes = styles.filter((s) => !s.suppressed).reduce((sum, s) => sum + (s.gainN ?? s.classes ?? 0), 0);
        return {
          body: [emptyOr(styles, () => gainChart(styles, gainTitle)), h("p.note", pick(d.note))],
          foot: h(
            "span",
            t("school.classesN", { n: int(classes) }),
            " · ",
            suppressedNote(styles.map((s) => ({ ...s, group: s }))) || t("suppressed.none"),
          ),
        };
      },
    }),
    panel(ctx, {
      id: "panel-rating-parents",
      title: scatterTitle,
      hint: t("school.scatterHint"),
      load: async () => {
        const scatter = (await get("ratingVsParents")).ratingVsParents;
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
            scatter.points.length ? scatterChart(scatter, scatterTitle) : empty(t("school.noScatter", { n: minResponses })),
            h("p.note", pick(scatter.note)),
          ],
          foot: t("school.hiddenTeachers", { count: int(scatter.hiddenTeachers ?? 0), n: minResponses }),
        };
      },
    }),
    panel(ctx, {
      id: "panel-sla",
      title: slaTitle,
      hint: t("school.slaHint"),
      cls: "span-12",
      load: async () => {
        const groups = (await get("slaTrend")).slaTrend;
        return {
          body: emptyOr(groups, () => slaChart(groups, filter.groupBy, slaTitle)),
          foot: footOf(groups, (g) => (g.homeworkN || 0) + (g.questionN || 0), "school.slaN"),
        };
      },
    }),
  );
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
  const panels = panelsData.templatePack.dashboardPanels;
  return h(
    "div.stack",
    { dataset: { dashboard: school ? "school" : "rd" } },
    pageHeader(
      t(school ? "dashboard.schoolTitle" : "dashboard.rdTitle"),
      t("dashboard.subtitle", { from: date(filter.startsOn), to: date(filter.endsOn), n: minGroupSize() }),
    ),
    bar,
    school ? schoolPanels(ctx, panels, filter) : rdPanels(ctx, panels, filter),
    h("p.note", t("dashboard.association")),
  );
}

export default { render };
