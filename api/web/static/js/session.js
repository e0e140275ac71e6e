// The session: tokens from the `login` mutation kept in sessionStorage (this tab only,
// gone when it closes), refreshed shortly before the access token expires through
// `refreshToken`, ended with `logout`. Listeners hear when a session ends.

import { ApiError, payload, rawGraphQL } from "./api.js";

const STORAGE_KEY = "renshi.session";
const REMEMBERED_KEY = "renshi.login";
const EARLY_S = 30; // refresh this long before expiry: a request never leaves with a stale token

const LOGIN = `mutation Login($tenant: String!, $email: String!, $password: String!) {
  login(tenant: $tenant, email: $email, password: $password) {
    __typename
    ... on LoginPayload { accessToken refreshToken expiresIn }
    ... on Error { code field message messageZh }
  }
}`;
const REFRESH = `mutation Refresh($refreshToken: String!) {
  refreshToken(refreshToken: $refreshToken) {
    __typename
    ... on TokenRefreshPayload { accessToken refreshToken expiresIn }
    ... on Error { code field message messageZh }
  }
}`;
const LOGOUT = `mutation Logout($refreshToken: String!) {
  logout(refreshToken: $refreshToken) { __typename }
}`;

const endListeners = new Set();
let refreshing = null;

function read() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
  } catch {
    return null;
  }
}

function store(tokens, tenant) {
  const session = {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: Date.now() + tokens.expiresIn * 1000,
    tenant,
  };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  return session;
}

export function hasSession() {
  return read() !== null;
}

/** The tenant slug and e-mail of the last login on this browser (never the password). */
export function rememberedLogin() {
  try {
    return JSON.parse(localStorage.getItem(REMEMBERED_KEY) || "{}");
  } catch {
    return {};
  }
}

export async function login(tenant, email, password) {
  const data = await rawGraphQL(LOGIN, { tenant, email, password }, null);
  const tokens = payload(data.login);
  localStorage.setItem(REMEMBERED_KEY, JSON.stringify({ tenant, email }));
  return store(tokens, tenant);
}

/** A valid access token, refreshed first when it is about to expire; null without a session. */
export async function accessToken() {
  const session = read();
  if (!session) return null;
  if (Date.now() < session.expiresAt - EARLY_S * 1000) return session.accessToken;
  return refreshSession();
}

/** Trade the refresh token for a new pair (once at a time); null when that fails. */
export function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      const session = read();
      if (!session) return null;
      try {
        const data = await rawGraphQL(REFRESH, { refreshToken: session.refreshToken }, null);
        return store(payload(data.refreshToken), session.tenant).accessToken;
      } catch (error) {
        if (error instanceof ApiError) return null;
        throw error;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export async function logout() {
  const session = read();
  sessionStorage.removeItem(STORAGE_KEY);
  if (session) {
    try {
      await rawGraphQL(LOGOUT, { refreshToken: session.refreshToken }, null);
    } catch {
      // The tokens are gone from this tab either way; the refresh token expires by itself.
    }
  }
  endSession("logout");
}

/** Forget the session and tell the listeners why ("logout" or "expired"). */
export function endSession(reason) {
  sessionStorage.removeItem(STORAGE_KEY);
  for (const listener of endListeners) listener(reason);
}

export function onSessionEnd(listener) {
  endListeners.add(listener);
  return () => endListeners.delete(listener);
}
