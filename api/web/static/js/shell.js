// The frame around every page: the sidebar with the pages this user may open, the
// organisation, the language switch and logging out.

import { app, hasRole, isSchool } from "./app.js";
import { h, icon } from "./dom.js";
import { lang, LANGUAGES, pick, setLang, t } from "./i18n.js";
import { link } from "./router.js";
import { logout } from "./session.js";

/** The pages of the sidebar this user may open, in order. */
export function navItems() {
  const items = [];
  if (hasRole("ADMIN", "HR", "MANAGER")) {
    items.push({ path: "/dashboard", icon: "dashboard", label: t("nav.dashboard") });
  }
  if (hasRole("ADMIN", "HR", "MANAGER", "SALES")) {
    items.push({ path: "/people", icon: "people", label: t("nav.people") });
  }
  if (app.me.employee) {
    items.push({ path: "/me", icon: "user", label: t("nav.me") });
  }
  if (!isSchool() && hasRole("ADMIN", "HR", "MANAGER", "SALES")) {
    items.push({ path: "/matching", icon: "match", label: t("nav.matching") });
  }
  if (hasRole("ADMIN", "HR")) {
    items.push({ path: "/imports", icon: "import", label: t("nav.imports") });
  }
  return items;
}

export function languageSwitch() {
  return h(
    "div.segmented",
    { role: "group", "aria-label": t("lang.switch") },
    LANGUAGES.map((code) =>
      h(
        "button",
        {
          type: "button",
          "aria-pressed": String(lang() === code),
          dataset: { lang: code },
          lang: code === "zh" ? "zh-CN" : "en",
          on: { click: () => setLang(code) },
        },
        code === "zh" ? "中文" : "EN",
      ),
    ),
  );
}

export function shell(activePath) {
  const me = app.me;
  const nav = h(
    "nav",
    { class: "nav", "aria-label": t("nav.label") },
    navItems().map((item) =>
      h(
        "a",
        {
          href: link(item.path),
          "aria-current": activePath.startsWith(item.path) ? "page" : undefined,
          dataset: { nav: item.path.slice(1) },
        },
        icon(item.icon),
        h("span", item.label),
      ),
    ),
  );
  const roles = [...me.roles].map((role) => t(`role.${role}`)).join(" · ");
  const sidebar = h(
    "aside.sidebar",
    h(
      "div.brand",
      h("img", { src: "/static/img/logo.svg", alt: "" }),
      h(
        "div.brand-text",
        h("div.brand-name", t("app.name")),
        h("span.brand-tenant", { title: me.tenant.name }, me.tenant.name),
      ),
    ),
    nav,
    h(
      "div.sidebar-foot",
      h(
        "div.who",
        h("strong", (me.user && (me.user.displayName || me.user.email)) || ""),
        h("span", roles),
        h("br"),
        h("span", pick(me.tenant.templateName)),
      ),
      languageSwitch(),
      h(
        "button.btn.btn-ghost.btn-small",
        { type: "button", id: "logout", on: { click: () => logout() } },
        icon("logout"),
        h("span", t("nav.logout")),
      ),
    ),
  );
  const main = h("main.main", { id: "main", tabindex: "-1" });
  return { root: h("div.shell", sidebar, main), main };
}
