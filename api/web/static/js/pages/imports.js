// Imports: upload a file encrypted with the organisation's import key, run a dry run (or
// the import), follow it live (the importProgress subscription), then read the result:
// what would be or was written, the rows in error with the API's own words, and the full
// error report as CSV. Admins also manage the import keys here.

import { hasRole } from "../app.js";
import { errorText, getFile, gql, gqlUpload, payload, putFile } from "../api.js";
import { h, icon, replace, saveBlob } from "../dom.js";
import { bytes, dateTime, int, num, pair, pct, pick, t } from "../i18n.js";
import { subscribe } from "../ws.js";
import {
  badge,
  card,
  empty,
  errorNotice,
  field,
  lazy,
  loading,
  notice,
  numeric,
  pageHeader,
  select,
  table,
} from "../views.js";

// Up to this size a file goes in the createImport request itself (GraphQL multipart, one
// round trip that also starts the run); larger ones stream to the import's uploadPath.
const MULTIPART_MAX_BYTES = 8 * 1024 * 1024;
const FINISHED = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const RUNNING = new Set(["QUEUED", "RUNNING", "VALIDATING", "LOADING"]);

const PROGRESS_FIELDS = `id kind fileName status mode onError progress etaSeconds rowsRead rowsValid
  rowsInvalid rowsWritten bytesProcessed byteSize createdAt startedAt finishedAt`;
const KINDS = `query ImportKinds {
  importKinds { code label { zh en } fields { name required label { zh en } } }
  importProfiles { name builtin kind label { zh en } }
}`;
const HISTORY = `query ImportHistory($after: String) {
  imports(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { ${PROGRESS_FIELDS} } }
  }
}`;
const DETAILS = `query ImportDetails($id: ID!) {
  node(id: $id) {
    ... on Import {
      ${PROGRESS_FIELDS} summary errorsPath headers
      error { code message messageZh }
      firstErrors(limit: 50) { row column code message messageZh value }
    }
  }
}`;
const PROGRESS = `subscription ImportProgress($id: ID!) {
  importProgress(id: $id) { ${PROGRESS_FIELDS} }
}`;
const RESULT = `__typename
  ... on ImportPayload { import { ${PROGRESS_FIELDS} uploadPath } }
  ... on Error { code field message messageZh }`;
const CREATE = `mutation CreateImport($input: ImportCreateInput!) { createImport(input: $input) { ${RESULT} } }`;
const START = `mutation StartImport($input: ImportStartInput!) { startImport(input: $input) { ${RESULT} } }`;
const CANCEL = `mutation CancelImport($id: ID!) { cancelImport(id: $id) { ${RESULT} } }`;
const KEYS = `query ImportKeys { importKeys { keyId enabled primary } }`;
const CREATE_KEY = `mutation CreateImportKey { createImportKey {
  __typename
  ... on ImportKeyCreatePayload { keyId associatedData keysetFile }
  ... on Error { code field message messageZh }
} }`;

/** The format of an encrypted file from its name: "staff.xlsx.enc" is XLSX. */
export function formatOf(fileName) {
  const name = (fileName || "").toLowerCase().replace(/\.(enc|tink|encrypted|bin)$/, "");
  if (name.endsWith(".xlsx")) return "XLSX";
  if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return "JSONL";
  return "CSV";
}

function statusBadge(status) {
  const kind = { SUCCEEDED: "ok", FAILED: "bad", CANCELLED: "", READY: "info" }[status] ?? "warn";
  return badge(t(`importStatus.${status}`), kind);
}

// --- one import: live progress, then its result ------------------------------------------------

function progressView(item) {
  const share = item.progress ?? 0;
  const done = FINISHED.has(item.status);
  return h(
    "div.stack#import-progress",
    { dataset: { status: item.status } },
    h(
      "div.row",
      statusBadge(item.status),
      item.mode ? badge(t(`importMode.${item.mode}`), "info") : null,
      h("span.note", item.fileName || ""),
    ),
    h(
      "div.progress",
      {
        class: item.status === "FAILED" ? "failed" : done ? "done" : "",
        role: "progressbar",
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": String(Math.round(share * 100)),
        "aria-label": t("imports.progress"),
      },
      h("div", { style: { width: `${Math.round(share * 100)}%` } }),
    ),
    h(
      "dl.facts",
      h("div", h("dt", t("imports.processed")), h("dd", `${pct(share, 0)} · ${bytes(item.bytesProcessed)} / ${bytes(item.byteSize)}`)),
      h("div", h("dt", t("imports.rowsRead")), h("dd#rows-read", int(item.rowsRead))),
      h("div", h("dt", t("imports.rowsValid")), h("dd", int(item.rowsValid))),
      h("div", h("dt", t("imports.rowsInvalid")), h("dd#rows-invalid", int(item.rowsInvalid))),
      h("div", h("dt", t("imports.rowsWritten")), h("dd", int(item.rowsWritten))),
      item.etaSeconds !== null && item.etaSeconds !== undefined && !done
        ? h("div", h("dt", t("imports.eta")), h("dd", t("imports.seconds", { n: num(item.etaSeconds, 0) })))
        : null,
    ),
  );
}

function summaryText(item) {
  const s = item.summary || {};
  const vars = {
    would: int(s.wouldWrite ?? 0),
    written: int(item.rowsWritten),
    created: int(s.created ?? 0),
    updated: int(s.updated ?? 0),
    unchanged: int(s.unchanged ?? 0),
    invalid: int(item.rowsInvalid),
  };
  if (item.mode === "DRY_RUN") return t("imports.dryRunSummary", vars);
  if (item.mode === "PREVIEW") return t("imports.previewSummary", vars);
  return t("imports.commitSummary", vars);
}

function errorsTable(item) {
  return table(
    "import-errors",
    [numeric(t("imports.row")), t("imports.column"), t("imports.problem"), t("imports.value")],
    item.firstErrors.map((error) =>
      h(
        "tr",
        h("td.num", int(error.row)),
        h("td", error.column || "–"),
        h("td", pair(error.message, error.messageZh), h("div.note", error.code)),
        h("td", h("code", error.value)),
      ),
    ),
  );
}

function resultView(ctx, item) {
  const state = ctx.state;
  const parts = [];
  if (item.status === "FAILED" && item.error) {
    parts.push(notice("error", h("strong", t("imports.failed")), " ", pair(item.error.message, item.error.messageZh)));
  } else if (item.status === "CANCELLED") {
    parts.push(notice("warn", t("imports.cancelled")));
  } else if (item.status === "SUCCEEDED") {
    parts.push(notice(item.rowsInvalid ? "warn" : "info", h("span#import-summary", summaryText(item))));
    if (item.mode === "DRY_RUN" && item.rowsInvalid && item.onError === "ALL_OR_NOTHING") {
      parts.push(h("p.note", t("imports.allOrNothingNote")));
    }
  }
  if (item.firstErrors && item.firstErrors.length) {
    parts.push(
      h(
        "div.row",
        h("h3", t("imports.errorsTitle", { n: int(item.rowsInvalid || item.firstErrors.length) })),
        h(
          "button.btn.btn-small#download-errors",
          {
            type: "button",
            on: {
              click: async (event) => {
                const button = event.currentTarget;
                button.disabled = true;
                try {
                  saveBlob(await getFile(item.errorsPath), `import-errors-${item.id.slice(-8)}.csv`);
                } catch (error) {
                  button.after(errorNotice(error));
                } finally {
                  button.disabled = false;
                }
              },
            },
          },
          icon("download"),
          t("imports.downloadErrors"),
        ),
      ),
      errorsTable(item),
      item.firstErrors.length < item.rowsInvalid
        ? h("p.note", t("imports.firstErrorsOnly", { shown: item.firstErrors.length }))
        : null,
    );
  }
  if (item.status === "SUCCEEDED" && item.mode === "DRY_RUN" && hasRole("ADMIN", "HR")) {
    const commit = (onError) => async () => {
      try {
        const data = await gql(START, { input: { id: item.id, mode: "COMMIT", onError } });
        follow(ctx, payload(data.startImport).import);
      } catch (error) {
        state.message = errorText(error);
        state.redraw();
      }
    };
    parts.push(
      h(
        "div.row",
        h(
          "button.btn.btn-primary#import-commit",
          { type: "button", disabled: item.rowsInvalid > 0 && item.onError === "ALL_OR_NOTHING", on: { click: commit(item.onError) } },
          t("imports.commitNow"),
        ),
        item.rowsInvalid > 0
          ? h("button.btn", { type: "button", on: { click: commit("SKIP_INVALID") } }, t("imports.commitValidOnly"))
          : null,
      ),
    );
  }
  return h("div.stack#import-result", parts);
}

/** Follow an import live until it finishes, then load its result. */
function follow(ctx, item) {
  const state = ctx.state;
  if (state.stop) state.stop();
  state.live = item;
  state.details = null;
  state.message = null;
  state.redraw();
  const finish = async () => {
    state.stop = null;
    try {
      const data = await gql(DETAILS, { id: item.id });
      state.details = data.node;
      state.live = data.node;
    } catch (error) {
      state.message = errorText(error);
    }
    ctx.forget(); // the history changed
    state.redraw();
    state.redrawHistory();
  };
  if (!RUNNING.has(item.status)) {
    finish();
    return;
  }
  state.stop = subscribe(PROGRESS, { id: item.id }, {
    onNext: (data) => {
      state.live = data.importProgress;
      state.redraw();
    },
    onComplete: finish,
    onError: (error) => {
      // The socket failed (a proxy without WebSocket, a dropped connection): poll instead.
      state.stop = poll(ctx, item.id, finish, error);
    },
  });
}

function poll(ctx, id, finish) {
  const state = ctx.state;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      const data = await gql(DETAILS, { id });
      state.live = data.node;
      state.redraw();
      if (!RUNNING.has(data.node.status)) {
        finish();
        return;
      }
    } catch (error) {
      state.message = errorText(error);
      state.redraw();
    }
    setTimeout(tick, 1000);
  };
  tick();
  return () => {
    stopped = true;
  };
}

// --- the new-import form ---------------------------------------------------------------------

function uploadForm(ctx, kinds, profiles) {
  const state = ctx.state;
  const fileNote = h("p.note#import-file-note", state.file ? `${state.file.name} · ${bytes(state.file.size)}` : t("imports.noFile"));
  const fileInput = h("input", {
    type: "file",
    id: "import-file",
    on: {
      change: (event) => {
        state.file = event.target.files[0] || null;
        fileNote.textContent = state.file ? `${state.file.name} · ${bytes(state.file.size)}` : t("imports.noFile");
      },
    },
  });
  const kindProfiles = () => profiles.filter((profile) => profile.kind === null || profile.kind === state.kind);
  const profileSelect = select(
    kindProfiles().map((profile) => [profile.name, pick(profile.label) || profile.name]),
    state.profile,
    { id: "import-profile", on: { change: (event) => (state.profile = event.target.value) } },
  );
  const message = h("div", { "aria-live": "polite" });
  const buttons = [];

  const start = async (mode) => {
    if (!state.file) {
      replace(message, notice("warn", t("imports.chooseFile")));
      return;
    }
    buttons.forEach((button) => (button.disabled = true));
    replace(message, loading(t("imports.uploading")));
    const file = state.file;
    const input = {
      kind: state.kind,
      format: state.format === "AUTO" ? formatOf(file.name) : state.format,
      fileName: file.name,
      profile: state.profile || null,
      onError: state.onError,
    };
    try {
      let item;
      if (file.size <= MULTIPART_MAX_BYTES) {
        const data = await gqlUpload(CREATE, { input: { ...input, file: null, start: mode } }, "input.file", file);
        item = payload(data.createImport).import;
      } else {
        const created = payload((await gql(CREATE, { input })).createImport).import;
        await putFile(created.uploadPath, file, (share) => {
          replace(message, loading(`${t("imports.uploading")} ${pct(share, 0)}`));
        });
        const started = await gql(START, { input: { id: created.id, mode, onError: state.onError } });
        item = payload(started.startImport).import;
      }
      replace(message);
      follow(ctx, item);
    } catch (error) {
      replace(message, notice("error", errorText(error)));
    } finally {
      buttons.forEach((button) => (button.disabled = false));
    }
  };

  buttons.push(
    h("button.btn.btn-primary#import-dry-run", { type: "button", on: { click: () => start("DRY_RUN") } }, t("imports.dryRun")),
    h("button.btn#import-run", { type: "button", on: { click: () => start("COMMIT") } }, t("imports.run")),
  );

  return h(
    "div.stack",
    h(
      "div.form-grid",
      field(
        t("imports.kind"),
        select(
          kinds.map((kind) => [kind.code, pick(kind.label)]),
          state.kind,
          {
            id: "import-kind",
            on: {
              change: (event) => {
                state.kind = event.target.value;
                state.profile = "generic";
                ctx.refresh();
              },
            },
          },
        ),
      ),
      field(t("imports.file"), fileInput),
      field(
        t("imports.format"),
        select(
          [["AUTO", t("imports.formatAuto")], ["CSV", "CSV"], ["XLSX", "XLSX"], ["JSONL", "JSONL"]],
          state.format,
          { id: "import-format", on: { change: (event) => (state.format = event.target.value) } },
        ),
      ),
      field(t("imports.profile"), profileSelect),
      field(
        t("imports.onError"),
        select(
          [["ALL_OR_NOTHING", t("imports.allOrNothing")], ["SKIP_INVALID", t("imports.skipInvalid")]],
          state.onError,
          { id: "import-on-error", on: { change: (event) => (state.onError = event.target.value) } },
        ),
      ),
    ),
    fileNote,
    h("div.row", buttons),
    message,
  );
}

function fieldsHint(kinds, code) {
  const kind = kinds.find((candidate) => candidate.code === code);
  if (!kind) return null;
  return h(
    "p.note",
    t("imports.fields"),
    " ",
    kind.fields.map((f, i) => [i ? ", " : "", f.required ? h("strong", pick(f.label)) : pick(f.label)]),
    ` (${t("imports.requiredBold")})`,
  );
}

// --- keys and history ------------------------------------------------------------------------

function keysCard(ctx) {
  const state = ctx.state;
  const body = lazy(async () => {
    const data = await ctx.query(KEYS);
    const create = async (event) => {
      event.currentTarget.disabled = true;
      try {
        const result = payload((await gql(CREATE_KEY)).createImportKey);
        const blob = new Blob([JSON.stringify(result.keysetFile, null, 2)], { type: "application/json" });
        saveBlob(blob, `renshi-import-key-${result.keysetFile.tenantSlug || "tenant"}-${result.keyId}.json`);
        state.keyMessage = t("imports.keyCreated", { id: result.keyId });
      } catch (error) {
        state.keyMessage = errorText(error);
      }
      ctx.forget();
      ctx.refresh();
    };
    return h(
      "div.stack",
      state.keyMessage ? notice("info", state.keyMessage) : null,
      data.importKeys.length
        ? h(
            "div.chips",
            data.importKeys.map((key) =>
              h("span.chip", `#${key.keyId}`, key.primary ? ` · ${t("imports.keyPrimary")}` : "", key.enabled ? "" : ` · ${t("imports.keyDisabled")}`),
            ),
          )
        : empty(t("imports.noKeys")),
      h("p.note", t("imports.keyHint")),
      h("div", h("button.btn.btn-small#create-key", { type: "button", on: { click: create } }, icon("key"), t("imports.newKey"))),
    );
  });
  return card({ title: t("imports.keysTitle"), body });
}

function historyView(ctx, kinds) {
  const state = ctx.state;
  const labels = new Map(kinds.map((kind) => [kind.code, pick(kind.label)]));
  const box = h("div");
  const draw = () =>
    replace(
      box,
      lazy(async () => {
        const items = [];
        let after = null;
        for (let page = 0; page < 10; page += 1) {
          const data = await ctx.query(HISTORY, { after });
          items.push(...data.imports.edges.map((edge) => edge.node));
          if (!data.imports.pageInfo.hasNextPage) break;
          after = data.imports.pageInfo.endCursor;
        }
        if (!items.length) return empty(t("imports.noHistory"));
        items.reverse(); // newest first
        return table(
          "import-history",
          [
            t("imports.created"),
            t("imports.kind"),
            t("imports.file"),
            t("imports.mode"),
            t("imports.status"),
            numeric(t("imports.rowsRead")),
            numeric(t("imports.rowsInvalid")),
            numeric(t("imports.rowsWritten")),
          ],
          items.slice(0, 50).map((item) =>
            h(
              "tr.clickable",
              { on: { click: () => follow(ctx, item) } },
              h("td", dateTime(item.createdAt)),
              h("td", labels.get(item.kind) || item.kind),
              h("td", item.fileName || "–"),
              h("td", item.mode ? t(`importMode.${item.mode}`) : "–"),
              h("td", statusBadge(item.status)),
              h("td.num", int(item.rowsRead)),
              h("td.num", int(item.rowsInvalid)),
              h("td.num", int(item.rowsWritten)),
            ),
          ),
        );
      }),
    );
  state.redrawHistory = draw;
  draw();
  return box;
}

// --- the page --------------------------------------------------------------------------------

async function render(ctx) {
  const state = ctx.state;
  const { importKinds: kinds, importProfiles: profiles } = await ctx.query(KINDS);
  state.kind ??= kinds.some((kind) => kind.code === "employees") ? "employees" : kinds[0].code;
  state.format ??= "AUTO";
  state.profile ??= "generic";
  state.onError ??= "ALL_OR_NOTHING";
  if (!state.left) {
    state.left = true;
    ctx.onLeave(() => state.stop && state.stop());
  }

  const current = h("div");
  state.redraw = () => {
    if (!state.live) {
      replace(current);
      return;
    }
    replace(
      current,
      card({
        id: "import-current",
        title: t("imports.currentTitle"),
        actions:
          RUNNING.has(state.live.status) && state.live.status !== "LOADING"
            ? h(
                "button.btn.btn-small",
                {
                  type: "button",
                  on: {
                    click: async () => {
                      try {
                        payload((await gql(CANCEL, { id: state.live.id })).cancelImport);
                      } catch (error) {
                        state.message = errorText(error);
                        state.redraw();
                      }
                    },
                  },
                },
                t("imports.cancel"),
              )
            : null,
        body: [
          progressView(state.live),
          state.message ? notice("error", state.message) : null,
          state.details ? h("div.mt", resultView(ctx, state.details)) : RUNNING.has(state.live.status) ? h("p.note.mt", t("imports.live")) : null,
        ],
      }),
    );
  };
  state.redraw();

  return h(
    "div.stack",
    pageHeader(t("imports.heading"), t("imports.subtitle")),
    card({
      title: t("imports.newTitle"),
      hint: t("imports.newHint"),
      body: [uploadForm(ctx, kinds, profiles), fieldsHint(kinds, state.kind)],
    }),
    current,
    hasRole("ADMIN") ? keysCard(ctx) : null,
    card({ title: t("imports.historyTitle"), body: historyView(ctx, kinds) }),
  );
}

export default { render };
