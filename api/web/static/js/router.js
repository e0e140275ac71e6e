// A tiny hash router: "#/people/<id>" -> the page registered for "/people/:id" with
// params {id}. Hash URLs need nothing from the server beyond "/" and survive reloads.

const routes = [];

export function route(pattern, page) {
  const keys = [];
  const source = pattern
    .split("/")
    .map((part) => {
      if (!part.startsWith(":")) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      keys.push(part.slice(1));
      return "([^/]+)";
    })
    .join("/");
  routes.push({ pattern, regex: new RegExp(`^${source}$`), keys, page });
}

export function currentPath() {
  const path = location.hash.replace(/^#/, "");
  return path.startsWith("/") ? path : "/";
}

/** The route of `path`: {pattern, page, params}, or null. */
export function resolve(path) {
  const [bare, search = ""] = path.split("?");
  for (const candidate of routes) {
    const match = candidate.regex.exec(bare);
    if (!match) continue;
    const params = Object.fromEntries(new URLSearchParams(search));
    candidate.keys.forEach((key, i) => {
      params[key] = decodeURIComponent(match[i + 1]);
    });
    return { pattern: candidate.pattern, page: candidate.page, params, path };
  }
  return null;
}

export function navigate(path, { replace = false } = {}) {
  const hash = `#${path}`;
  if (location.hash === hash) {
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else if (replace) {
    location.replace(hash);
  } else {
    location.hash = hash;
  }
}

export function link(path) {
  return `#${path}`;
}

export function onRouteChange(listener) {
  window.addEventListener("hashchange", () => listener(currentPath()));
}
