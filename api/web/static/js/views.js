// Building blocks every page uses: headers, cards (drawn at once or loading on their own),
// tables, key figures, n badges, loading and error states, the suppressed-group label, a
// side drawer.

import { errorText } from "./api.js";
import { startCharts } from "./charts.js";
import { h, icon, replace } from "./dom.js";
import { int, t } from "./i18n.js";

export function pageHeader(title, subtitle, ...actions) {
  return h(
    "header.page-header",
    h("div", h("h1", title), subtitle ? h("p.subtitle", subtitle) : null),
    actions.length ? h("div.page-actions", actions) : null,
  );
}

/**
 * A card: a head (title, hint, actions), a body and an optional foot. With `load` instead of
 * `body`/`foot`, the card is drawn at once and its content loads on its own (see `lazy`):
 * `load()` resolves to {body, foot}.
 */
export function card({ title, hint, actions, body, foot, load, cls = "", id } = {}) {
  const content = (drawn) => [h("div.card-body", drawn.body), drawn.foot ? h("div.card-foot", drawn.foot) : null];
  return h(
    "section.card",
    { class: cls, id, "aria-label": typeof title === "string" ? title : undefined },
    title || actions
      ? h(
          "div.card-head",
          h("div", title ? h("h2", title) : null, hint ? h("div.hint", hint) : null),
          actions || null,
        )
      : null,
    load ? lazy(async () => content(await load()), { class: "card-lazy" }) : content({ body, foot }),
  );
}

/**
 * A table in its scrolling frame. `columns` are header labels, `numeric(label)` for a
 * right-aligned number. `rows` are the body's <tr> elements.
 */
export function table(id, columns, rows, { cls = "" } = {}) {
  const header = columns.map((column) =>
    column instanceof NumericColumn ? h("th.num", column.label) : h("th", column),
  );
  return h("div.table-wrap", { class: cls }, h("table.table", { id }, h("thead", h("tr", header)), h("tbody", rows)));
}

class NumericColumn {
  constructor(label) {
    this.label = label;
  }
}

/** A right-aligned numeric column of `table`. */
export function numeric(label) {
  return new NumericColumn(label);
}

export function kpi(label, value, sub) {
  return h("div.kpi", h("div.kpi-label", label), h("div.kpi-value", value), sub ? h("div.kpi-sub", sub) : null);
}

/** "n = 42": every figure says how many data points stand behind it. */
export function nBadge(n, key = "n.points") {
  return h("span.n", { title: t(key) }, `n = ${n === null || n === undefined ? "–" : int(n)}`);
}

export function suppressedLabel(minPeople) {
  return h("span.suppressed", t("suppressed.fewer", { n: minPeople }));
}

export function loading(text) {
  return h("div.loading", { role: "status" }, h("span.spinner", { "aria-hidden": "true" }), text || t("common.loading"));
}

export function skeletons(count = 3) {
  return h(
    "div.grid",
    Array.from({ length: count }, (_, i) => h("div.skeleton", { class: i === 0 ? "span-12" : "span-6" })),
  );
}

export function errorNotice(error, retry) {
  return h(
    "div.notice.error",
    { role: "alert" },
    h("strong", t("error.title")),
    " ",
    errorText(error),
    retry ? [" ", h("button.btn-link", { type: "button", on: { click: retry } }, t("common.retry"))] : null,
  );
}

export function notice(kind, ...content) {
  return h("div.notice", { class: kind, role: kind === "error" ? "alert" : "note" }, content);
}

export function empty(text) {
  return h("div.empty", text);
}

export function badge(text, kind = "") {
  return h("span.badge", { class: kind }, text);
}

export function field(label, control, error) {
  return h("label.field", h("span", label), control, error ? h("span.field-error", error) : null);
}

export function select(options, value, attrs = {}) {
  return h(
    "select",
    attrs,
    options.map(([optionValue, label]) =>
      h("option", { value: optionValue, selected: String(optionValue) === String(value ?? "") }, label),
    ),
  );
}

/** A side drawer (native <dialog>): closes with Esc, the close button or a backdrop click. */
export function openDrawer(title, subtitle, body, { id } = {}) {
  const dialog = h(
    "dialog.drawer",
    { id, "aria-label": typeof title === "string" ? title : t("common.details") },
    h(
      "div.drawer-head",
      h("div", h("h2", title), subtitle ? h("div.note", subtitle) : null),
      h(
        "button.btn.btn-ghost.btn-small",
        { type: "button", "aria-label": t("common.close"), on: { click: () => dialog.close() } },
        icon("close"),
      ),
    ),
    h("div.drawer-body", body),
  );
  dialog.addEventListener("close", () => dialog.remove());
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

export function initials(name) {
  const text = (name || "?").trim();
  if (/[\u4e00-\u9fff]/.test(text)) return text.slice(-2);
  return text
    .split(/\s+/)
    .slice(0, 2)
    .map((part) => part[0])
    .join("")
    .toUpperCase();
}

/**
 * A part of a page that loads on its own: a spinner, then what `load()` builds, or the
 * error in words with a retry. The rest of the page does not wait for it.
 */
export function lazy(load, attrs = {}) {
  const box = h("div", { "aria-live": "polite", ...attrs }, loading());
  const run = async () => {
    replace(box, loading());
    try {
      replace(box, await load());
      startCharts();
    } catch (error) {
      replace(box, errorNotice(error, run));
    }
  };
  run();
  return box;
}
