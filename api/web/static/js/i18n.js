// Languages: the zh and en dictionaries (static/i18n/*.json), the chosen language
// (remembered in localStorage, first taken from the browser's), and the formatting of
// numbers, shares and dates in it.

const STORAGE_KEY = "renshi.lang";
export const LANGUAGES = ["zh", "en"];
const dictionaries = { zh: {}, en: {} };
const listeners = new Set();
let current = initialLanguage();

function initialLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(saved)) return saved;
  const browser = (navigator.languages && navigator.languages[0]) || navigator.language || "";
  return browser.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export async function loadDictionaries() {
  const load = async (lang) => {
    const response = await fetch(`/static/i18n/${lang}.json`);
    if (!response.ok) throw new Error(`i18n/${lang}.json: HTTP ${response.status}`);
    dictionaries[lang] = await response.json();
  };
  await Promise.all(LANGUAGES.map(load));
  applyDocumentLanguage();
}

export function lang() {
  return current;
}

export function setLang(next) {
  if (!LANGUAGES.includes(next) || next === current) return;
  current = next;
  localStorage.setItem(STORAGE_KEY, next);
  applyDocumentLanguage();
  for (const listener of listeners) listener(next);
}

export function onLangChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function applyDocumentLanguage() {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  document.title = t("app.title");
}

/** The label of `key` in the current language; `{name}` placeholders from `vars`. */
export function t(key, vars) {
  const text = dictionaries[current][key] ?? dictionaries.en[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : ""));
}

/** A LocalizedText ({zh, en}) in the current language. */
export function pick(text) {
  if (!text) return "";
  return (current === "zh" ? text.zh : text.en) || text.en || text.zh || "";
}

/** An English/Chinese pair given as two fields (labelEn / labelZh). */
export function pair(en, zh) {
  return (current === "zh" ? zh : en) || en || zh || "";
}

const locale = () => (current === "zh" ? "zh-CN" : "en-GB");

export function num(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  }).format(value);
}

export function int(value) {
  return num(value, 0);
}

/** A share 0..1 as a percentage. */
export function pct(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), {
    style: "percent",
    maximumFractionDigits: digits,
  }).format(value);
}

export function date(value) {
  if (!value) return "–";
  const d = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeZone: "UTC" }).format(d);
}

export function dateTime(value) {
  if (!value) return "–";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(value),
  );
}

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["B", "KB", "MB", "GB"];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${num(size, unit ? 1 : 0)} ${units[unit]}`;
}

const UNIT_DIGITS = { ratio: 2, count: 1, percentile: 0, rating: 2, points: 1 };

/** A measured value in its indicator's unit ("%" values are shares 0..1). */
export function measure(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (unit === "%") return pct(value, 1);
  const figure = num(value, UNIT_DIGITS[unit] ?? 2);
  if (!unit || unit === "ratio" || unit === "count") return figure;
  return `${figure} ${t(`unit.${unit}`)}`;
}
