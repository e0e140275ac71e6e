// Who is logged in and what their organisation works with: the viewer's roles, the tenant
// and its template pack. Loaded once per session; every page reads it from here.

import { gql } from "./api.js";
import { pick } from "./i18n.js";

const ME = `query Me {
  viewer {
    roles
    user { email displayName }
    employee { id name }
  }
  tenant { slug name templateCode templateName { zh en } settings }
  templatePack {
    code
    vocabulary { person { zh en } people { zh en } scorecard { zh en } unit { zh en } }
    levels { code rank name { zh en } }
  }
}`;

const DEFAULT_MIN_GROUP_SIZE = 5; // domain/dashboards/scope.py

export const app = { me: null };

export async function loadMe() {
  const data = await gql(ME);
  app.me = {
    roles: new Set(data.viewer.roles),
    user: data.viewer.user,
    employee: data.viewer.employee,
    tenant: data.tenant,
    pack: data.templatePack,
  };
  return app.me;
}

export function forgetMe() {
  app.me = null;
}

export function hasRole(...roles) {
  return roles.some((role) => app.me && app.me.roles.has(role));
}

export function isSchool() {
  return app.me && app.me.tenant.templateCode === "school_teaching";
}

/** Groups resting on fewer people than this are hidden from everyone but admins. */
export function minGroupSize() {
  const size = app.me && app.me.tenant.settings && app.me.tenant.settings.dashboardMinGroupSize;
  return Number.isInteger(size) && size >= 2 ? size : DEFAULT_MIN_GROUP_SIZE;
}

export function levels() {
  return (app.me && app.me.pack.levels) || [];
}

export function levelName(code) {
  const level = levels().find((candidate) => candidate.code === code);
  return level ? pick(level.name) : code || "";
}

export function vocabulary(word) {
  return pick(app.me && app.me.pack.vocabulary[word]);
}
