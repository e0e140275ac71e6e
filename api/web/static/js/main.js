// The app's entry: load the dictionaries, then draw the page the URL names inside the
// shell (or the login page), again whenever the URL, the language or the session changes.
//
// A page module exports {render(ctx) -> Promise<Node>}. Its context lives as long as the
// user stays on that URL: `state` keeps what the page holds (form values, a running
// import), `query` and `queryPartial` answer the same operation from memory, so that
// switching the language redraws the page without asking the server again.

import { app, forgetMe, loadMe } from "./app.js";
import { disposeCharts, startCharts } from "./charts.js";
import { gql, gqlPartial } from "./api.js";
import { h, replace } from "./dom.js";
import { loadDictionaries, onLangChange, t } from "./i18n.js";
import dashboardPage from "./pages/dashboard.js";
import importsPage from "./pages/imports.js";
import loginPage from "./pages/login.js";
import matchingPage from "./pages/matching.js";
import peoplePage from "./pages/people.js";
import profilePage from "./pages/profile.js";
import { currentPath, navigate, onRouteChange, resolve, route } from "./router.js";
import { hasSession, logout, onSessionEnd } from "./session.js";
import { navItems, shell } from "./shell.js";
import { errorNotice, loading, skeletons } from "./views.js";

route("/login", loginPage);
route("/dashboard", dashboardPage);
route("/people", peoplePage);
route("/people/:id", profilePage);
route("/me", profilePage);
route("/matching", matchingPage);
route("/imports", importsPage);

const root = document.getElementById("app");
let current = null; // {path, page, ctx}
let drawing = 0;
let loginNotice = null;
let wanted = null; // where to go after logging in

function newContext(resolved) {
  const cache = new Map();
  const leaving = [];
  // A failure, or an answer `keep` refuses, is asked again next time.
  const remember = (key, ask, keep) => {
    if (!cache.has(key)) {
      const answer = ask();
      const forget = () => {
        if (cache.get(key) === answer) cache.delete(key);
      };
      answer.then((value) => keep(value) || forget(), forget);
      cache.set(key, answer);
    }
    return cache.get(key);
  };
  const ctx = {
    params: resolved.params,
    path: resolved.path,
    state: {},
    /** The operation's data; any error is thrown. */
    query(document, variables) {
      const key = document + JSON.stringify(variables || {});
      return remember(key, () => gql(document, variables), () => true);
    },
    /** {data, errors}: field errors beside the data (see gqlPartial); kept only without errors. */
    queryPartial(document, variables) {
      const key = `partial:${document}${JSON.stringify(variables || {})}`;
      return remember(key, () => gqlPartial(document, variables), (result) => result.errors.length === 0);
    },
    forget() {
      cache.clear();
    },
    refresh() {
      if (current && current.ctx === ctx) drawPage({ busy: true });
    },
    onLeave(callback) {
      leaving.push(callback);
    },
    leave() {
      for (const callback of leaving.splice(0)) callback();
    },
    isCurrent() {
      return current !== null && current.ctx === ctx;
    },
  };
  return ctx;
}

function defaultPath() {
  const items = navItems();
  return items.length ? items[0].path : "/me";
}

function allowed(pattern) {
  if (pattern === "/me") return Boolean(app.me.employee);
  if (pattern === "/people/:id") return true; // the API decides whose record this user reads
  return navItems().some((item) => item.path === pattern);
}

async function show(path) {
  const seq = ++drawing;
  if (!hasSession()) {
    if (current) current.ctx.leave();
    current = null;
    if (path !== "/login") wanted = path;
    drawLogin();
    return;
  }
  if (!app.me) {
    replace(root, h("div.boot", loading(t("common.loading"))));
    try {
      await loadMe();
    } catch (error) {
      if (seq !== drawing) return;
      replace(
        root,
        h(
          "div.login-form-wrap",
          h(
            "div.login-form",
            errorNotice(error, () => show(currentPath())),
            h("button.btn", { type: "button", on: { click: () => logout() } }, t("nav.logout")),
          ),
        ),
      );
      return;
    }
    if (seq !== drawing) return;
  }
  const resolved = resolve(path);
  if (!resolved || path === "/" || resolved.pattern === "/login" || !allowed(resolved.pattern)) {
    navigate(wanted && wanted !== path ? wanted : defaultPath(), { replace: true });
    wanted = null;
    return;
  }
  if (!current || current.path !== path) {
    if (current) current.ctx.leave();
    current = { path, page: resolved.page, ctx: newContext(resolved) };
    if (resolved.pattern === "/me") current.ctx.params.id = app.me.employee.id;
  }
  drawShell();
  await drawPage({ busy: false });
}

function drawLogin() {
  disposeCharts();
  replace(
    root,
    loginPage.render({
      notice: loginNotice,
      onLoggedIn: async () => {
        loginNotice = null;
        forgetMe();
        await loadMe();
        navigate(wanted || defaultPath(), { replace: true });
        wanted = null;
      },
    }),
  );
}

let mainEl = null;

function drawShell() {
  const { root: frame, main } = shell(current.path);
  mainEl = main;
  replace(root, frame);
}

async function drawPage({ busy }) {
  const seq = ++drawing;
  const { page, ctx } = current;
  const main = mainEl;
  if (busy && main.firstChild) {
    main.setAttribute("aria-busy", "true");
  } else {
    disposeCharts();
    replace(main, skeletons());
  }
  let content;
  try {
    content = await page.render(ctx);
  } catch (error) {
    content = errorNotice(error, () => {
      ctx.forget();
      ctx.refresh();
    });
  }
  if (seq !== drawing || main !== mainEl) return; // a newer drawing took over
  disposeCharts(); // those of the content being replaced; this render's wait to start
  main.removeAttribute("aria-busy");
  replace(main, content);
  startCharts();
}

onRouteChange((path) => show(path));
onLangChange(() => {
  if (current) {
    drawShell();
    drawPage({ busy: false });
  } else if (!hasSession()) {
    drawLogin();
  }
});
onSessionEnd((reason) => {
  forgetMe();
  loginNotice = reason === "expired" ? t("login.expired") : null;
  if (current) wanted = current.path;
  navigate("/login");
});

// Keep tokens out of any error report: nothing here logs them.
loadDictionaries()
  .then(() => show(currentPath()))
  .catch((error) => {
    replace(root, h("div.boot", errorNotice(error)));
  });
