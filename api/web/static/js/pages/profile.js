// A person's profile: the record, their scorecards against their level over time (the
// personal dashboard), and one period's scorecard with every line's explanation: the facts
// used, the baseline and target it was held to, the rule that moved it, and n.

import { app, hasRole, levelName, minGroupSize } from "../app.js";
import { ApiError } from "../api.js";
import { categoryAxis, chart, COLORS, esc, valueAxis } from "../charts.js";
import { h, icon } from "../dom.js";
import { date, dateTime, int, lang, measure, num, pair, pct, pick, t } from "../i18n.js";
import {
  badge,
  card,
  empty,
  errorNotice,
  field,
  initials,
  lazy,
  nBadge,
  notice,
  numeric,
  openDrawer,
  pageHeader,
  select,
  table,
} from "../views.js";

const PROFILE = `query Profile($id: ID!) {
  node(id: $id) {
    ... on Employee {
      id name employeeNumber title email hireDate status
      orgUnit { id name ancestors { id name } }
      level { code name { zh en } }
      skills { level source evaluatedOn skill { id name label { zh en } } }
      latestAppraisal { period score grade }
    }
  }
  periods { id code kind startsOn endsOn status }
}`;

const PERSONAL = `query Personal($employeeId: ID!) {
  personalDashboard(employeeId: $employeeId) {
    employeeId name
    level { key labelEn labelZh }
    points {
      periodId periodCode startsOn endsOn status totalPoints
      levelMedian levelP25 levelP75 levelN levelSuppressed insufficientData
    }
  }
}`;

const LINE_FIELDS = `indicator name { zh en } category group status actual rawActual n facts
  baseline baselineKind baselineN baselineLow baselineHigh threshold target stretch limit
  achievement points weight effectiveWeight watch
  adjustments { rule kind inputs effect reason { zh en } }
  explanation { sentenceEn sentenceZh data }`;

const SCORECARD = `query Scorecard($periodId: ID!, $employeeId: ID!) {
  scorecard(periodId: $periodId, employeeId: $employeeId) {
    id level status total percentile indicatorTotal reviewPoints reviewResponses blendedTotal
    adjustment adjustmentComment scoredWeight computedAt
    levelName { zh en }
    categories { category name { zh en } points }
    redistributed { indicator name { zh en } weight status }
    explanation { sentenceEn sentenceZh data }
    lines { ${LINE_FIELDS} }
  }
}`;

const FACTS = `query LineFacts($employeeId: ID!, $kind: String!, $from: DateTime!, $before: DateTime!) {
  facts(first: 10, employeeId: $employeeId, kind: $kind, from: $from, before: $before) {
    pageInfo { hasNextPage }
    edges { node { id occurredAt value denominator source externalKey } }
  }
}`;

function sentence(explanation) {
  return pair(explanation.sentenceEn, explanation.sentenceZh);
}

// --- the record ------------------------------------------------------------------------------

function header(person) {
  const unitPath = person.orgUnit
    ? [...(person.orgUnit.ancestors || []).map((unit) => unit.name), person.orgUnit.name].join(" / ")
    : "–";
  const facts = [
    [t("people.number"), person.employeeNumber],
    [t("people.unit"), unitPath],
    [t("people.level"), person.level ? pick(person.level.name) : "–"],
    [t("people.jobTitle"), person.title || "–"],
    [t("people.hireDate"), date(person.hireDate)],
    [t("people.status"), t(`employeeStatus.${person.status}`)],
  ];
  if (person.latestAppraisal) {
    const appraisal = person.latestAppraisal;
    facts.push([
      t("profile.latestAppraisal"),
      `${appraisal.period}: ${appraisal.grade || num(Number(appraisal.score), 1)}`,
    ]);
  }
  const skills = [...person.skills].sort((a, b) => b.level - a.level);
  return card({
    body: [
      h(
        "div.profile-head",
        h("div.avatar", { "aria-hidden": "true" }, initials(person.name)),
        h("div", h("h1#profile-name", person.name), h("p.note", person.email || "")),
      ),
      h("dl.facts.mt", facts.map(([label, value]) => h("div", h("dt", label), h("dd", value)))),
      skills.length
        ? h(
            "div.mt",
            h("div.section-title", t("profile.skills")),
            h(
              "div.chips",
              skills.map((held) =>
                h(
                  "span.chip",
                  { title: `${t("profile.skillLevel")} ${held.level}/5 · ${date(held.evaluatedOn)}` },
                  pick(held.skill.label) || held.skill.name,
                  h("strong", `${held.level}/5`),
                ),
              ),
            ),
          )
        : null,
    ],
  });
}

// --- scorecards over time --------------------------------------------------------------------

function personalChart(dashboard) {
  const points = [...dashboard.points].sort((a, b) => a.startsOn.localeCompare(b.startsOn));
  if (!points.length) return empty(t("profile.noHistory"));
  const labels = points.map((p) => p.periodCode);
  const value = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);
  // A level of too few people shows no median or band: suppressed, never drawn as zero.
  const level = (p, key) => (p.levelSuppressed ? null : value(p[key]));
  const low = points.map((p) => level(p, "levelP25"));
  const spread = points.map((p) =>
    p.levelSuppressed || p.levelP25 === null || p.levelP75 === null ? null : value(p.levelP75 - p.levelP25),
  );
  const option = {
    legend: {
      top: 0,
      data: [t("profile.series.total"), t("profile.series.median"), t("profile.series.band")],
    },
    xAxis: categoryAxis(labels),
    yAxis: valueAxis({ min: 0, max: 120, name: t("profile.points") }),
    tooltip: {
      trigger: "axis",
      formatter: (items) => {
        const p = points[items[0].dataIndex];
        const lines = [`<strong>${esc(p.periodCode)}</strong> · ${esc(t(`periodStatus.${String(p.status).toUpperCase()}`))}`];
        lines.push(
          p.insufficientData || p.totalPoints === null
            ? `${esc(t("profile.series.total"))}: ${esc(t("scorecard.insufficient"))}`
            : `${esc(t("profile.series.total"))}: <strong>${esc(num(p.totalPoints))}</strong>`,
        );
        if (p.levelSuppressed) {
          lines.push(esc(t("suppressed.fewer", { n: minGroupSize() })));
        } else {
          lines.push(`${esc(t("profile.series.median"))}: ${esc(num(p.levelMedian))}`);
          lines.push(`P25–P75: ${esc(num(p.levelP25))} – ${esc(num(p.levelP75))}`);
          lines.push(`${esc(t("profile.levelPeople"))}: n = ${esc(int(p.levelN))}`);
        }
        return lines.join("<br>");
      },
    },
    series: [
      {
        name: t("profile.series.band"),
        type: "line",
        stack: "band",
        data: low,
        lineStyle: { opacity: 0 },
        symbol: "none",
        silent: true,
        tooltip: { show: false },
      },
      {
        name: t("profile.series.band"),
        type: "line",
        stack: "band",
        data: spread,
        lineStyle: { opacity: 0 },
        areaStyle: { color: COLORS.band },
        symbol: "none",
        silent: true,
      },
      {
        name: t("profile.series.median"),
        type: "line",
        data: points.map((p) => level(p, "levelMedian")),
        lineStyle: { type: "dashed", color: COLORS.grey },
        itemStyle: { color: COLORS.grey },
        symbol: "none",
      },
      {
        name: t("profile.series.total"),
        type: "line",
        data: points.map((p) => (p.insufficientData ? null : value(p.totalPoints))),
        connectNulls: false,
        symbolSize: 8,
        lineStyle: { width: 3, color: COLORS.brand },
        itemStyle: { color: COLORS.brand },
        label: { show: true, position: "top", formatter: ({ value: v }) => num(v, 0) },
      },
    ],
  };
  const insufficient = points.filter((p) => p.insufficientData).map((p) => p.periodCode);
  return h(
    "div",
    chart(option, { label: t("profile.historyTitle") }),
    h(
      "p.note",
      t("profile.historyNote"),
      insufficient.length ? ` ${t("profile.insufficientPeriods", { periods: insufficient.join(", ") })}` : "",
    ),
  );
}

async function loadPersonal(ctx, employeeId) {
  try {
    const data = await ctx.query(PERSONAL, { employeeId });
    if (!data.personalDashboard) return empty(t("profile.noHistory"));
    return personalChart(data.personalDashboard);
  } catch (error) {
    if (error instanceof ApiError && error.code === "FORBIDDEN") return notice("info", t("profile.historyForbidden"));
    throw error;
  }
}

// --- one scorecard ---------------------------------------------------------------------------

function lineStatus(line) {
  const kinds = { SCORED: "ok", INSUFFICIENT_DATA: "warn", NO_DATA: "", NO_BASELINE: "warn" };
  return badge(t(`lineStatus.${line.status}`), kinds[line.status]);
}

function scorecardView(ctx, scorecard, employee, period) {
  if (!scorecard) return empty(t("scorecard.none"));
  const unitOf = (line) => line.explanation.data.unit;
  const total =
    scorecard.total === null
      ? h("span.big", "–")
      : h("span.big#scorecard-total", num(scorecard.total));
  const summary = h(
    "div.grid",
    h(
      "div.span-4",
      h(
        "div.score-ring",
        total,
        h("span.note", t("scorecard.outOf", { max: 120 })),
      ),
      h(
        "div.row",
        badge(t(`scorecardStatus.${scorecard.status}`), scorecard.status === "SCORED" ? "ok" : "warn"),
        scorecard.percentile !== null
          ? badge(t("scorecard.percentile", { p: num(scorecard.percentile, 0), level: pick(scorecard.levelName) || levelName(scorecard.level) }), "info")
          : null,
      ),
      scorecard.adjustment
        ? h("p.note.mt", t("scorecard.adjusted", { points: num(scorecard.adjustment), comment: scorecard.adjustmentComment || "" }))
        : null,
      scorecard.reviewPoints !== null
        ? h("p.note", t("scorecard.reviews", { points: num(scorecard.reviewPoints), n: int(scorecard.reviewResponses) }))
        : null,
    ),
    h(
      "div.span-8",
      h("p.sentence#scorecard-sentence", sentence(scorecard.explanation)),
      h(
        "div.row.mt",
        scorecard.categories.map((category) =>
          h("span.chip", `${pick(category.name)}: ${num(category.points)}`),
        ),
        h(
          "button.btn.btn-small#explain-scorecard",
          { type: "button", on: { click: () => explainScorecard(scorecard, period) } },
          icon("info"),
          t("scorecard.howComputed"),
        ),
      ),
    ),
  );

  const rows = scorecard.lines.map((line) =>
    h(
      "tr",
      { dataset: { indicator: line.indicator } },
      h(
        "td",
        h("div", pick(line.name)),
        line.watch ? badge(t("scorecard.watch"), "warn") : null,
        line.adjustments.length ? badge(t("scorecard.ruleMoved"), "info") : null,
      ),
      h("td", lineStatus(line)),
      h("td.num", measure(line.actual, unitOf(line)), " ", nBadge(line.n)),
      h(
        "td.num",
        measure(line.baseline, unitOf(line)),
        line.baselineN !== null ? [" ", nBadge(line.baselineN, "n.peers")] : null,
      ),
      h("td.num", measure(line.target, unitOf(line))),
      h("td.num", line.achievement === null ? "–" : pct(line.achievement, 0)),
      h("td.num", h("strong", num(line.points))),
      h("td.num", num(line.effectiveWeight, 1)),
      h(
        "td",
        h(
          "button.btn.btn-small.explain",
          {
            type: "button",
            dataset: { indicator: line.indicator },
            on: { click: () => explainLine(ctx, line, employee) },
          },
          t("scorecard.explain"),
        ),
      ),
    ),
  );
  const lines = table(
    "scorecard-lines",
    [
      t("scorecard.indicator"),
      t("scorecard.status"),
      numeric(t("scorecard.actual")),
      numeric(t("scorecard.baseline")),
      numeric(t("scorecard.target")),
      numeric(t("scorecard.achievement")),
      numeric(t("scorecard.points")),
      numeric(t("scorecard.weight")),
      h("span.sr-only", t("scorecard.explain")),
    ],
    rows,
    { cls: "mt" },
  );
  const redistributed = scorecard.redistributed.length
    ? notice(
        "info",
        t("scorecard.redistributed", {
          items: scorecard.redistributed
            .map((r) => `${pick(r.name) || r.indicator} (${t(`lineStatus.${r.status}`)}, ${num(r.weight, 0)})`)
            .join(lang() === "zh" ? "、" : ", "),
        }),
      )
    : null;
  return h("div", summary, redistributed ? h("div.mt", redistributed) : null, lines);
}

function explainScorecard(scorecard, period) {
  const data = scorecard.explanation.data || {};
  const body = [
    h("p.sentence", sentence(scorecard.explanation)),
    h(
      "div",
      h("div.section-title", t("explain.parts")),
      h(
        "dl.facts",
        h("div", h("dt", t("explain.indicatorTotal")), h("dd", num(scorecard.indicatorTotal))),
        h("div", h("dt", t("explain.scoredWeight")), h("dd", `${num(scorecard.scoredWeight, 0)} / 100`)),
        h(
          "div",
          h("dt", t("explain.reviews")),
          h("dd", scorecard.reviewPoints === null ? t("explain.noReviews") : `${num(scorecard.reviewPoints)} (n = ${int(scorecard.reviewResponses)})`),
        ),
        h("div", h("dt", t("explain.adjustment")), h("dd", scorecard.adjustment ? num(scorecard.adjustment) : "–")),
        h("div", h("dt", t("explain.total")), h("dd", num(scorecard.total))),
        h("div", h("dt", t("explain.percentile")), h("dd", scorecard.percentile === null ? "–" : num(scorecard.percentile, 0))),
      ),
    ),
    h(
      "div",
      h("div.section-title", t("explain.categories")),
      h(
        "div.chips",
        scorecard.categories.map((category) => h("span.chip", `${pick(category.name)}: ${num(category.points)}`)),
      ),
    ),
    scorecard.redistributed.length
      ? h(
          "div",
          h("div.section-title", t("explain.redistributed")),
          h(
            "ul",
            scorecard.redistributed.map((r) =>
              h("li", `${pick(r.name) || r.indicator}: ${t(`lineStatus.${r.status}`)}, ${t("scorecard.weight")} ${num(r.weight, 0)}`),
            ),
          ),
        )
      : null,
    data.blend ? h("p.note", t("explain.blend")) : null,
  ];
  openDrawer(t("explain.scorecardTitle"), `${period.code} · ${date(period.startsOn)} – ${date(period.endsOn)}`, body, {
    id: "explanation",
  });
}

function ladder(target, unit) {
  return h(
    "div.ladder",
    h("div", h("span.note", t("explain.threshold")), h("strong", measure(target.threshold, unit)), h("span.note", t("explain.pointsAt", { p: 80 }))),
    h("div", h("span.note", t("explain.target")), h("strong", measure(target.target, unit)), h("span.note", t("explain.pointsAt", { p: 100 }))),
    h("div", h("span.note", t("explain.stretch")), h("strong", measure(target.stretch, unit)), h("span.note", t("explain.pointsAt", { p: 120 }))),
  );
}

function effectText(effect) {
  return Object.entries(effect || {})
    .map(([what, change]) =>
      change && typeof change === "object" && "from" in change
        ? `${t(`explain.effect.${what}`)}: ${num(change.from, 2)} → ${num(change.to, 2)}`
        : `${what}: ${JSON.stringify(change)}`,
    )
    .join("; ");
}

function explainLine(ctx, line, employee) {
  const data = line.explanation.data || {};
  const unit = data.unit;
  const facts = data.facts || {};
  const baseline = data.baseline || null;
  const target = data.target || {};
  const minN = data.minN;

  const factsList = facts.kind
    ? lazy(async () => {
        const result = await ctx.query(FACTS, {
          employeeId: employee.id,
          kind: facts.kind,
          from: facts.from,
          before: facts.before,
        });
        const edges = result.facts.edges;
        if (!edges.length) return empty(t("explain.noFacts"));
        return [
          table(
            "explanation-facts",
            [t("explain.factDate"), numeric(t("explain.factValue")), numeric(t("explain.factDenominator")), t("explain.factSource")],
            edges.map(({ node }) =>
              h(
                "tr",
                h("td", dateTime(node.occurredAt)),
                h("td.num", num(node.value, 2)),
                h("td.num", node.denominator === null ? "–" : num(node.denominator, 2)),
                h("td", [node.source, node.externalKey].filter(Boolean).join(" · ")),
              ),
            ),
          ),
          result.facts.pageInfo.hasNextPage
            ? h("p.note", t("explain.firstFacts", { shown: edges.length, total: int(facts.count) }))
            : null,
        ];
      })
    : null;

  const body = [
    h("p.sentence#explanation-sentence", sentence(line.explanation)),
    h(
      "div#explanation-facts-used",
      h("div.section-title", t("explain.factsUsed")),
      h(
        "p",
        t("explain.factsSummary", {
          count: int(facts.count ?? line.facts),
          kind: pick(facts.kindName) || facts.kind || "",
          from: date(facts.firstDay),
          to: date(facts.lastDay),
        }),
        " ",
        nBadge(line.n),
        minN ? h("span.note", ` ${t("explain.minN", { n: minN })}`) : null,
      ),
      line.rawActual !== null && line.actual !== null && Math.abs(line.rawActual - line.actual) > 1e-9
        ? h("p.note", t("explain.shrunk", { raw: measure(line.rawActual, unit), actual: measure(line.actual, unit) }))
        : null,
      factsList,
    ),
    h(
      "div#explanation-baseline",
      h("div.section-title", t("explain.baseline")),
      baseline && baseline.value !== null && baseline.value !== undefined
        ? h(
            "p",
            t(`explain.baselineKind.${baseline.kind}`),
            ": ",
            h("strong", measure(baseline.value, unit)),
            " ",
            nBadge(baseline.n, baseline.kind === "person" ? "n.points" : "n.peers"),
            baseline.low !== null && baseline.low !== undefined
              ? h("span.note", ` ${t("explain.interval", { low: measure(baseline.low, unit), high: measure(baseline.high, unit) })}`)
              : null,
          )
        : h("p.note", t("explain.noBaseline")),
    ),
    h(
      "div#explanation-target",
      h("div.section-title", t("explain.targetTitle")),
      target.target !== null && target.target !== undefined ? ladder(target, unit) : h("p.note", t("explain.noTarget")),
      target.policy === "baseline" && target.multipliers
        ? h("p.note", t("explain.multipliers", { threshold: num(target.multipliers.threshold, 2), target: num(target.multipliers.target, 2), stretch: num(target.multipliers.stretch, 2) }))
        : null,
      line.limit !== null ? h("p.note", t("explain.limit", { limit: num(line.limit, 0) })) : null,
    ),
    h(
      "div#explanation-rules",
      h("div.section-title", t("explain.rules")),
      line.adjustments.length
        ? line.adjustments.map((adjustment) =>
            h(
              "div.rule",
              h("strong", t(`rule.${adjustment.kind}`) === `rule.${adjustment.kind}` ? adjustment.rule : t(`rule.${adjustment.kind}`)),
              h("p", pick(adjustment.reason)),
              h("p.note", effectText(adjustment.effect)),
            ),
          )
        : h("p.note", t("explain.noRules")),
    ),
    h(
      "div",
      h("div.section-title", t("explain.result")),
      h(
        "dl.facts",
        h("div", h("dt", t("scorecard.actual")), h("dd", measure(line.actual, unit))),
        h("div", h("dt", t("scorecard.achievement")), h("dd", line.achievement === null ? "–" : pct(line.achievement, 0))),
        h("div", h("dt", t("scorecard.points")), h("dd", num(line.points))),
        h(
          "div",
          h("dt", t("scorecard.weight")),
          h("dd", `${num(data.definedWeight ?? line.weight, 1)} → ${num(line.effectiveWeight, 1)}`),
        ),
      ),
      line.watch ? notice("warn", t("explain.watch")) : null,
    ),
  ];
  openDrawer(pick(line.name), [t(`category.${line.category}`), data.direction ? t(`direction.${data.direction}`) : null].filter(Boolean).join(" · "), body, {
    id: "explanation",
  });
}

// --- the page --------------------------------------------------------------------------------

async function render(ctx) {
  const state = ctx.state;
  const data = await ctx.query(PROFILE, { id: ctx.params.id });
  const person = data.node;
  if (!person || !person.employeeNumber) {
    return h("div.stack", pageHeader(t("profile.heading")), notice("warn", t("profile.notFound")));
  }
  const periods = data.periods;
  const closed = periods.find((p) => p.status === "CLOSED");
  state.periodId ??= (closed || periods[0] || {}).id || null;
  const period = periods.find((p) => p.id === state.periodId) || null;
  const canScore = hasRole("ADMIN", "HR", "MANAGER", "EMPLOYEE");
  const own = Boolean(app.me.employee && app.me.employee.id === person.id);

  const periodSelect = select(
    periods.map((p) => [p.id, `${p.code} · ${t(`periodStatus.${p.status}`)}`]),
    state.periodId,
    {
      id: "scorecard-period",
      on: {
        change: (event) => {
          state.periodId = event.target.value;
          ctx.refresh();
        },
      },
    },
  );

  let scorecardBody;
  if (!canScore) {
    scorecardBody = notice("info", t("scorecard.forbidden"));
  } else if (!period) {
    scorecardBody = empty(t("scorecard.noPeriods"));
  } else {
    try {
      const result = await ctx.query(SCORECARD, { periodId: period.id, employeeId: person.id });
      scorecardBody = scorecardView(ctx, result.scorecard, person, period);
    } catch (error) {
      scorecardBody = errorNotice(error, () => ctx.refresh());
    }
  }

  return h(
    "div.stack",
    pageHeader(t("profile.heading"), t("profile.subtitle")),
    header(person),
    canScore || own
      ? card({
          title: t("profile.historyTitle"),
          hint: t("profile.historyHint"),
          body: lazy(() => loadPersonal(ctx, person.id), { id: "personal-dashboard" }),
        })
      : null,
    card({
      id: "scorecard",
      title: t("scorecard.title"),
      hint: period ? `${date(period.startsOn)} – ${date(period.endsOn)}` : null,
      actions: canScore && periods.length ? field(t("scorecard.period"), periodSelect) : null,
      body: scorecardBody,
    }),
  );
}

export default { render };
