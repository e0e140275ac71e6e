// Matching a sales request to people who can really deliver it: skills with minimum
// levels, size, deadline, an optional quality bar and unit. Candidates come ranked with
// their predicted pace, cycle, finish probability and defect rate, each with its n, and the
// targets they can reach; when nobody makes the deadline, the earliest date someone would.

import { levelName } from "../app.js";
import { errorText } from "../api.js";
import { h, icon, replace } from "../dom.js";
import { date, int, num, pct, pick, t } from "../i18n.js";
import { allSkills, allUnits, unitOptions } from "../lookups.js";
import { link } from "../router.js";
import { badge, card, empty, field, loading, nBadge, notice, pageHeader, select } from "../views.js";

const MATCH = `query Match($input: MatchInput!) {
  matchCandidates(input: $input) {
    confidence earliestFeasibleDate
    candidates {
      employeeId level feasible openLoad predictedCycleDays finishProbability
      proposedCycleDays proposedDefectRate
      employee { id name employeeNumber orgUnit { name } }
      skillLevels { skillId level }
      pace { value n baseline baselineN }
      predictedDefectRate { value n baseline baselineN }
      reasons { zh en }
    }
  }
}`;

function inDays(days) {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function candidateCard(candidate, skillNames, deadline) {
  const person = candidate.employee;
  const probability = candidate.finishProbability;
  const daysLeft = Math.max(0, Math.round((new Date(`${deadline}T00:00:00Z`) - Date.now()) / 86400000));
  return h(
    "article.card.candidate",
    { class: candidate.feasible ? "feasible" : "" },
    h(
      "div.row",
      h(
        "div.grow",
        person
          ? h("a", { href: link(`/people/${encodeURIComponent(person.id)}`) }, h("strong", person.name))
          : h("strong", t("matching.hiddenPerson")),
        h("div.note", [levelName(candidate.level), person && person.orgUnit ? person.orgUnit.name : null].filter(Boolean).join(" · ")),
      ),
      candidate.feasible ? badge(t("matching.feasible"), "ok") : badge(t("matching.notFeasible"), "warn"),
    ),
    h(
      "div.meter",
      { title: t("matching.finishProbability") },
      h("span.note", t("matching.finishProbability")),
      h("div.progress", h("div", { style: { width: `${Math.round((probability || 0) * 100)}%` } })),
      h("strong", probability === null ? "–" : pct(probability, 0)),
    ),
    h(
      "dl.facts",
      h(
        "div",
        h("dt", t("matching.cycle")),
        h("dd", candidate.predictedCycleDays === null ? "–" : t("matching.days", { n: num(candidate.predictedCycleDays, 1) }), h("span.note", ` / ${t("matching.daysLeft", { n: int(daysLeft) })}`)),
      ),
      h(
        "div",
        h("dt", t("matching.pace")),
        h("dd", candidate.pace.value === null ? "–" : t("matching.daysPerPoint", { n: num(candidate.pace.value, 2) }), " ", nBadge(candidate.pace.n)),
        h("span.note", t("matching.levelBaseline", { value: num(candidate.pace.baseline, 2), n: int(candidate.pace.baselineN) })),
      ),
      h(
        "div",
        h("dt", t("matching.defects")),
        h("dd", num(candidate.predictedDefectRate.value, 2), " ", nBadge(candidate.predictedDefectRate.n)),
        h("span.note", t("matching.levelBaseline", { value: num(candidate.predictedDefectRate.baseline, 2), n: int(candidate.predictedDefectRate.baselineN) })),
      ),
      h("div", h("dt", t("matching.openLoad")), h("dd", t("matching.points", { n: num(candidate.openLoad, 1) }))),
    ),
    h(
      "div.chips",
      candidate.skillLevels.map((held) => h("span.chip", `${skillNames.get(held.skillId) || "?"} ${held.level}/5`)),
    ),
    candidate.proposedCycleDays !== null
      ? h(
          "p.note",
          t("matching.proposed", {
            days: num(candidate.proposedCycleDays, 1),
            defects: num(candidate.proposedDefectRate, 2),
          }),
        )
      : null,
    candidate.reasons.length ? h("ul.note", candidate.reasons.map((reason) => h("li", pick(reason)))) : null,
  );
}

function resultsView(result, skillNames, deadline) {
  const feasible = result.candidates.filter((c) => c.feasible).length;
  const head = h(
    "div.row",
    h("strong", t("matching.found", { n: int(result.candidates.length), feasible: int(feasible) })),
    h("span.note", t("matching.confidence", { p: pct(result.confidence, 0) })),
  );
  const warning =
    feasible === 0
      ? notice(
          "warn",
          result.earliestFeasibleDate
            ? t("matching.earliest", { date: date(result.earliestFeasibleDate) })
            : t("matching.noEarliest"),
        )
      : null;
  return h(
    "div.stack#match-results",
    head,
    warning,
    result.candidates.length
      ? h("div.candidates", result.candidates.map((candidate) => candidateCard(candidate, skillNames, deadline)))
      : empty(t("matching.none")),
  );
}

async function render(ctx) {
  const state = ctx.state;
  state.needs ??= [{ skillId: "", minLevel: 3 }];
  state.size ??= 8;
  state.deadline ??= inDays(35);
  state.maxDefectRate ??= "";
  state.orgUnitId ??= "";

  const [skills, units] = await Promise.all([allSkills(ctx), allUnits(ctx)]);
  const skillNames = new Map(skills.map((skill) => [skill.id, pick(skill.label) || skill.name]));
  const skillOptions = [
    ["", t("matching.chooseSkill")],
    ...skills
      .map((skill) => [skill.id, pick(skill.label) || skill.name])
      .sort((a, b) => a[1].localeCompare(b[1])),
  ];

  const needsBox = h("div.stack");
  const drawNeeds = () => {
    replace(
      needsBox,
      state.needs.map((need, index) =>
        h(
          "div.skill-row",
          field(
            index === 0 ? t("matching.skill") : "",
            select(skillOptions, need.skillId, {
              class: "need-skill",
              on: { change: (event) => (need.skillId = event.target.value) },
            }),
          ),
          field(
            index === 0 ? t("matching.minLevel") : "",
            select([1, 2, 3, 4, 5].map((n) => [n, `≥ ${n}`]), need.minLevel, {
              class: "need-level",
              on: { change: (event) => (need.minLevel = Number(event.target.value)) },
            }),
          ),
          h(
            "button.btn.btn-ghost",
            {
              type: "button",
              "aria-label": t("matching.removeSkill"),
              disabled: state.needs.length === 1,
              on: {
                click: () => {
                  state.needs.splice(index, 1);
                  drawNeeds();
                },
              },
            },
            icon("close"),
          ),
        ),
      ),
      h(
        "div",
        h(
          "button.btn.btn-small",
          {
            type: "button",
            on: {
              click: () => {
                state.needs.push({ skillId: "", minLevel: 3 });
                drawNeeds();
              },
            },
          },
          icon("plus"),
          t("matching.addSkill"),
        ),
      ),
    );
  };
  drawNeeds();

  const results = h("div", { "aria-live": "polite" });
  const run = async () => {
    const needs = state.needs.filter((need) => need.skillId);
    if (!needs.length) {
      replace(results, notice("warn", t("matching.needSkill")));
      return;
    }
    const input = {
      skills: needs.map((need) => ({ skillId: need.skillId, minLevel: need.minLevel })),
      size: Number(state.size),
      deadline: state.deadline,
    };
    if (state.maxDefectRate !== "") input.maxDefectRate = Number(state.maxDefectRate);
    if (state.orgUnitId) input.orgUnitId = state.orgUnitId;
    replace(results, loading(t("matching.searching")));
    try {
      const data = await ctx.query(MATCH, { input });
      state.lastInput = input;
      replace(results, resultsView(data.matchCandidates, skillNames, input.deadline));
    } catch (error) {
      replace(results, notice("error", errorText(error)));
    }
  };

  const form = h(
    "form#match-form",
    {
      on: {
        submit: (event) => {
          event.preventDefault();
          run();
        },
      },
    },
    needsBox,
    h(
      "div.form-grid.mt",
      field(
        t("matching.size"),
        h("input", {
          type: "number",
          id: "match-size",
          min: "0.5",
          step: "0.5",
          required: true,
          value: state.size,
          on: { input: (event) => (state.size = event.target.value) },
        }),
      ),
      field(
        t("matching.deadline"),
        h("input", {
          type: "date",
          id: "match-deadline",
          required: true,
          value: state.deadline,
          on: { input: (event) => (state.deadline = event.target.value) },
        }),
      ),
      field(
        t("matching.maxDefects"),
        h("input", {
          type: "number",
          id: "match-defects",
          min: "0",
          step: "0.1",
          placeholder: t("common.optional"),
          value: state.maxDefectRate,
          on: { input: (event) => (state.maxDefectRate = event.target.value) },
        }),
      ),
      field(
        t("matching.unit"),
        select([["", t("common.all")], ...unitOptions(units)], state.orgUnitId, {
          id: "match-unit",
          on: { change: (event) => (state.orgUnitId = event.target.value) },
        }),
      ),
      h("button.btn.btn-primary", { type: "submit", id: "match-submit" }, t("matching.submit")),
    ),
  );
  if (state.lastInput) run();

  return h(
    "div.stack",
    pageHeader(t("matching.heading"), t("matching.subtitle")),
    card({ title: t("matching.request"), hint: t("matching.requestHint"), body: form }),
    results,
  );
}

export default { render };
