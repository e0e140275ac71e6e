// The people the user may see: search by name or number, narrow by level, open a profile.
// The form stays while the list below it is fetched again, so typing is never interrupted.

import { levels } from "../app.js";
import { h, replace } from "../dom.js";
import { int, pick, t } from "../i18n.js";
import { link, navigate } from "../router.js";
import { card, empty, errorNotice, field, loading, pageHeader, select, table } from "../views.js";

const PAGE = 50;
const EMPLOYEES = `query People($first: Int!, $after: String, $filter: EmployeeFilter) {
  employees(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name employeeNumber title status
      orgUnit { id name }
      level { code name { zh en } }
    } }
  }
}`;

function filterOf(state) {
  const filter = {};
  if (state.search) filter.search = state.search;
  if (state.level) filter.levels = [state.level];
  return filter;
}

function profileLink(person) {
  return `/people/${encodeURIComponent(person.id)}`;
}

function peopleTable(people) {
  return table(
    "people-table",
    [t("people.name"), t("people.number"), t("people.unit"), t("people.level"), t("people.jobTitle"), t("people.status")],
    people.map((person) =>
      h(
        "tr.clickable",
        { on: { click: () => navigate(profileLink(person)) } },
        h("td", h("a", { href: link(profileLink(person)) }, person.name)),
        h("td", person.employeeNumber),
        h("td", person.orgUnit ? person.orgUnit.name : "–"),
        h("td", person.level ? pick(person.level.name) : "–"),
        h("td", person.title || "–"),
        h("td", t(`employeeStatus.${person.status}`)),
      ),
    ),
  );
}

async function render(ctx) {
  const state = ctx.state;
  state.search ??= "";
  state.level ??= "";
  state.pages ??= 1;
  const results = h("div.stack", { "aria-live": "polite" });

  async function load() {
    const seq = (state.seq = (state.seq || 0) + 1);
    results.setAttribute("aria-busy", "true");
    try {
      const rows = [];
      let hasMore = false;
      let after = null;
      for (let page = 0; page < state.pages; page += 1) {
        const data = await ctx.query(EMPLOYEES, { first: PAGE, after, filter: filterOf(state) });
        rows.push(...data.employees.edges.map((edge) => edge.node));
        hasMore = data.employees.pageInfo.hasNextPage;
        after = data.employees.pageInfo.endCursor;
        if (!hasMore) break;
      }
      if (seq !== state.seq) return;
      const more = h(
        "button.btn",
        {
          type: "button",
          on: {
            click: () => {
              more.replaceWith(loading());
              state.pages += 1;
              load();
            },
          },
        },
        t("common.loadMore"),
      );
      replace(
        results,
        h("p.note", t("people.count", { n: `${int(rows.length)}${hasMore ? "+" : ""}` })),
        rows.length ? peopleTable(rows) : empty(t("people.none")),
        hasMore ? h("div.row", more) : null,
      );
    } catch (error) {
      if (seq === state.seq) replace(results, errorNotice(error, load));
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  let timer = null;
  const search = h("input", {
    type: "search",
    id: "people-search",
    value: state.search,
    placeholder: t("people.searchHint"),
    on: {
      input: (event) => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          state.search = event.target.value.trim();
          state.pages = 1;
          load();
        }, 300);
      },
    },
  });
  const level = select(
    [["", t("common.all")], ...levels().map((l) => [l.code, pick(l.name)])],
    state.level,
    {
      id: "people-level",
      on: {
        change: (event) => {
          state.level = event.target.value;
          state.pages = 1;
          load();
        },
      },
    },
  );

  await load();
  return h(
    "div.stack",
    pageHeader(t("people.heading"), t("people.subtitle")),
    card({
      body: [
        h("div.form-grid", field(t("common.search"), search), field(t("people.level"), level)),
        h("div.mt", results),
      ],
    }),
  );
}

export default { render };
