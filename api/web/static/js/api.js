// The GraphQL client: one POST to /graphql per operation with the session's bearer token,
// errors turned into ApiError with the API's own words (en and, when given, zh) and the path
// of the field that failed, one retry after refreshing an expired token; file uploads as
// GraphQL multipart requests or as a streaming PUT to an import's uploadPath.

import { lang, t } from "./i18n.js";
import { accessToken, endSession, refreshSession } from "./session.js";

export class ApiError extends Error {
  constructor(message, { messageZh = null, code = null, field = null, status = null, path = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.messageZh = messageZh;
    this.code = code;
    this.field = field;
    this.status = status;
    this.path = path; // the response path of the GraphQL field that failed, e.g. ["rdDashboard", "onTime"]
  }

  /** The message in the current language, when the API gave it in both. */
  localized() {
    if (lang() === "zh" && this.messageZh) return this.messageZh;
    return this.message;
  }
}

/** The words to show for any error: the API's message, or what failed on the way. */
export function errorText(error) {
  if (error instanceof ApiError) return error.localized();
  if (error && error.name === "AbortError") return t("error.aborted");
  if (error instanceof TypeError) return t("error.network");
  return (error && error.message) || t("error.unknown");
}

function fromGraphQLError(error, status) {
  const extensions = error.extensions || {};
  return new ApiError(error.message || t("error.unknown"), {
    messageZh: extensions.messageZh || null,
    code: extensions.code || null,
    field: extensions.field || null,
    status,
    path: Array.isArray(error.path) ? error.path : null,
  });
}

async function errorFromResponse(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body.errors && body.errors.length) return fromGraphQLError(body.errors[0], response.status);
  } catch {
    // Not JSON: the body is the message (strawberry answers bad requests in plain text).
  }
  return new ApiError(text.trim() || `HTTP ${response.status}`, { status: response.status });
}

/**
 * One GraphQL request with an explicit token (or none): the data, or an ApiError. With
 * `partial`, field errors come back beside the data instead: {data, errors}.
 */
export async function rawGraphQL(query, variables, token, { signal, partial = false } = {}) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables: variables || {} }),
    signal,
  });
  return readResult(response, partial);
}

async function readResult(response, partial = false) {
  if (!response.ok) throw await errorFromResponse(response);
  const body = await response.json();
  const errors = (body.errors || []).map((error) => fromGraphQLError(error, response.status));
  if (partial) return { data: body.data ?? null, errors };
  if (errors.length) throw errors[0];
  return body.data;
}

/** Run `send(token)`; on a 401 refresh the session once and send again. */
async function withSession(send) {
  const token = await accessToken();
  try {
    return await send(token);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || !token) throw error;
  }
  const fresh = await refreshSession();
  if (!fresh) {
    endSession("expired");
    throw new ApiError(t("error.sessionEnded"), { code: "UNAUTHENTICATED", status: 401 });
  }
  return send(fresh);
}

/** A GraphQL operation as the logged-in user. */
export function gql(query, variables, options) {
  return withSession((token) => rawGraphQL(query, variables, token, options));
}

/**
 * A GraphQL operation as the logged-in user, its field errors kept beside the data (what
 * GraphQL returns when some fields fail): {data, errors}, each error with its `path`. What
 * fails the whole request (HTTP status, network, an ended session) is thrown as by gql.
 */
export function gqlPartial(query, variables, options) {
  return withSession((token) => rawGraphQL(query, variables, token, { ...options, partial: true }));
}

/**
 * A mutation's result union: the payload, or its typed error thrown as ApiError.
 * Ask for `__typename` and `... on Error { code field message messageZh }`.
 */
export function payload(result) {
  if (result && /Error$/.test(result.__typename || "")) {
    throw new ApiError(result.message, {
      messageZh: result.messageZh,
      code: result.code,
      field: result.field,
    });
  }
  return result;
}

/**
 * A mutation with one file, per the GraphQL multipart request spec: `operations`, `map`,
 * then the file. `path` is where the file goes in the variables ("input.file").
 */
export function gqlUpload(query, variables, path, file) {
  return withSession(async (token) => {
    const form = new FormData();
    form.append("operations", JSON.stringify({ query, variables }));
    form.append("map", JSON.stringify({ 0: [`variables.${path}`] }));
    form.append("0", file, file.name);
    const response = await fetch("/graphql", {
      method: "POST",
      headers: token ? { authorization: `Bearer ${token}` } : {},
      body: form,
    });
    return readResult(response);
  });
}

/** PUT a file to an import's uploadPath, reporting the share sent (XHR: fetch cannot). */
export function putFile(path, file, onProgress) {
  return withSession(
    (token) =>
      new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open("PUT", path);
        xhr.setRequestHeader("authorization", `Bearer ${token}`);
        xhr.setRequestHeader("content-type", "application/octet-stream");
        xhr.upload.addEventListener("progress", (event) => {
          if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
        });
        xhr.addEventListener("load", async () => {
          const response = new Response(xhr.responseText, { status: xhr.status });
          if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText));
          else reject(await errorFromResponse(response));
        });
        xhr.addEventListener("error", () => reject(new TypeError("network")));
        xhr.send(file);
      }),
  );
}

/** GET a protected file (an import's errors.csv) as a Blob. */
export function getFile(path) {
  return withSession(async (token) => {
    const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) throw await errorFromResponse(response);
    return response.blob();
  });
}
